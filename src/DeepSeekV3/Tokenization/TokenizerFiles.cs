using DeepSeekV3.IO;

namespace DeepSeekV3.Tokenization;

/// <summary>The files that make a tokenizer, and copying them beside a model so the model directory is complete.</summary>
public static class TokenizerFiles
{
    public const string TokenizerJson = "tokenizer.json";
    public const string TokenizerConfigJson = "tokenizer_config.json";

    /// <summary>
    /// Copies tokenizer.json (and tokenizer_config.json when present) from <paramref name="source"/> — a tokenizer.json
    /// file or a directory holding one — into <paramref name="targetDirectory"/>, atomically. Returns false when the
    /// source has no tokenizer.json.
    /// </summary>
    public static bool CopyTo(string source, string targetDirectory)
    {
        string json = Directory.Exists(source) ? Path.Combine(source, TokenizerJson) : source;
        if (!File.Exists(json)) return false;
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(json))!, TokenizerConfigJson);
        Copy(json, Path.Combine(targetDirectory, TokenizerJson));
        if (File.Exists(config))
            Copy(config, Path.Combine(targetDirectory, TokenizerConfigJson));
        return true;
    }

    private static void Copy(string from, string to) => AtomicFile.Write(to, stream =>
    {
        using var input = File.OpenRead(from);
        input.CopyTo(stream);
    });
}
