using System.CommandLine;

namespace DeepSeekV3.Cli.Commands;

/// <summary>Options shared by the tokenizer commands.</summary>
internal static class TokenizerOptions
{
    public static Option<string> Path() => new("--tokenizer")
    {
        Description = "A model directory (tokenizer.json + tokenizer_config.json) or a tokenizer.json file",
        Required = true,
    };

    public static Option<FileInfo?> Input(string description) => new("--input") { Description = description };

    public static Stream OpenInput(FileInfo? file) => file is null ? Console.OpenStandardInput() : file.OpenRead();
}
