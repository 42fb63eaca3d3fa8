using System.Diagnostics;

namespace DeepSeekV3.Tests.Distributed;

/// <summary>
/// Runs dsv3 (from the test output folder) as an MPI job: <c>mpiexec.mpich -n RANKS dotnet dsv3.dll ARGS</c>, or as
/// one plain process with <see cref="RunSingle"/>. Each rank gets OMP_NUM_THREADS=1 so several ranks on two cores do
/// not fight over threads. A job that outlives its timeout is killed with its whole process tree and fails the test.
/// MPI missing is a failure, never a skip: the distributed code would otherwise go untested without anyone noticing.
/// </summary>
internal static class MpiJob
{
    public const string Launcher = "mpiexec.mpich";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    public static MpiJobResult Run(int ranks, params string[] args) => Run(ranks, DefaultTimeout, args);

    public static MpiJobResult Run(int ranks, TimeSpan timeout, params string[] args)
    {
        string launcher = FindOnPath(Launcher)
            ?? throw new Xunit.Sdk.XunitException($"MPI is missing: run bash scripts/setup.sh (apt-get install mpich); {Launcher} is not on PATH");
        return Start(launcher, ["-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet", Dsv3, .. args], timeout);
    }

    /// <summary>dsv3 as one process without mpiexec (the single-process communicator).</summary>
    public static MpiJobResult RunSingle(params string[] args) => Start("dotnet", [Dsv3, .. args], DefaultTimeout);

    private static string Dsv3 => Path.Combine(AppContext.BaseDirectory, "dsv3.dll");

    private static MpiJobResult Start(string fileName, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
        };
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["OMP_NUM_THREADS"] = "1";
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new Xunit.Sdk.XunitException(
                $"{fileName} {string.Join(' ', info.ArgumentList)} did not finish in {timeout.TotalSeconds:F0} s (killed)\n" +
                $"--- stdout\n{stdout.Result}\n--- stderr\n{stderr.Result}");
        }
        process.WaitForExit(); // lets the output readers reach the end
        return new MpiJobResult(process.ExitCode, stdout.Result, stderr.Result, watch.Elapsed);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
