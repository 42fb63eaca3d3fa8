using System.CommandLine;
using DeepSeekV3.Cli.Commands;

namespace DeepSeekV3.Cli;

/// <summary>Builds the dsv3 command tree and runs it; typed library errors become one line on stderr, exit code 2.</summary>
internal static class CliApp
{
    /// <param name="input">What `dsv3 chat` reads the user's turns from (default: standard input).</param>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null, TextReader? input = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        input ??= Console.In;
        var root = new RootCommand("DeepSeekV3.NET: DeepSeek-V3 models in C# (MLA, DeepSeekMoE, MTP, FP8 checkpoints)");
        foreach (Command command in CommandCatalog.All(input))
            root.Subcommands.Add(command);
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        try
        {
            return root.Parse(args).Invoke(configuration);
        }
        catch (Exception e) when (e is DeepSeekV3Exception or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"dsv3: error: {e.Message}");
            return 2;
        }
    }
}
