namespace DeepSeekV3.Cli.Commands;

/// <summary>Turns the library's typed errors into one clear line on stderr and a non-zero exit code.</summary>
internal static class CliErrors
{
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is DeepSeekV3.DeepSeekV3Exception or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"dsv3: error: {e.Message}");
            return 2;
        }
    }
}
