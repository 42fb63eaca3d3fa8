using System.CommandLine;
using DeepSeekV3.Cli.Commands;

namespace DeepSeekV3.Cli;

/// <summary>
/// Builds the dsv3 command tree and runs it. No exception reaches the user as a crash: typed library errors (and
/// I/O errors) become one line on stderr with exit code 2; anything else — a bug or a case we did not foresee —
/// becomes one line naming the exception type, with exit code 1. The stack trace follows only with --verbose or
/// DSV3_VERBOSE=1.
/// </summary>
internal static class CliApp
{
    /// <summary>Exit code of a typed error: bad arguments, unreadable or malformed inputs.</summary>
    public const int UserError = 2;

    /// <summary>Exit code of an unexpected exception.</summary>
    public const int InternalError = 1;

    /// <summary>Environment variable that, set to 1 (or true), prints stack traces as --verbose does.</summary>
    public const string VerboseVariable = "DSV3_VERBOSE";

    /// <param name="input">What `dsv3 chat` reads the user's turns from (default: standard input).</param>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null, TextReader? input = null)
    {
        output ??= Console.Out;
        error ??= Console.Error;
        input ??= Console.In;
        var root = new RootCommand("DeepSeekV3.NET: DeepSeek-V3 models in C# (MLA, DeepSeekMoE, MTP, FP8 checkpoints)");
        var verbose = new Option<bool>("--verbose")
        {
            Description = $"On an error, print the stack trace too (or set {VerboseVariable}=1)",
            Recursive = true,
        };
        root.Options.Add(verbose);
        foreach (Command command in CommandCatalog.All(input))
            root.Subcommands.Add(command);
        var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        var parsed = root.Parse(args);
        try
        {
            return parsed.Invoke(configuration);
        }
        catch (Exception e)
        {
            bool expected = e is DeepSeekV3Exception or IOException or UnauthorizedAccessException;
            bool trace = parsed.GetValue(verbose) || IsSet(Environment.GetEnvironmentVariable(VerboseVariable));
            string message = expected ? e.Message : $"unexpected {e.GetType().Name}: {e.Message}";
            error.WriteLine($"dsv3: error: {OneLine(message)}" + (expected || trace ? "" : " (--verbose for the stack trace)"));
            if (trace) error.WriteLine(e);
            return expected ? UserError : InternalError;
        }
    }

    private static bool IsSet(string? value) => value is not null && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase));

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
