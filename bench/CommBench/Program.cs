// Communication bandwidth under MPI (MPICH): all-reduce (float32, in place), all-to-all-v (even split) and
// point-to-point ping-pong between ranks 0 and 1, against message size (4 KB to 64 MB, powers of 4), with a memcpy
// of the same size as the ceiling for shared-memory MPI. Usage:
//   dotnet run -c Release --project bench/CommBench [-- --ranks 2,4] [--iterations 5] [--repeats 3]
// Started without mpiexec it measures memcpy, then re-launches itself under `mpiexec.mpich -n R` for each R; rank 0
// of each job prints the table and writes bench/results/comm-{R}r.json (+ .png).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DeepSeekV3.Bench;
using DeepSeekV3.Distributed;
using DeepSeekV3.Distributed.Mpi;

string Option(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var settings = new CommSettings(
    Iterations: int.Parse(Option("--iterations", "5"), CultureInfo.InvariantCulture),
    Repeats: int.Parse(Option("--repeats", "3"), CultureInfo.InvariantCulture),
    MaxBytes: long.Parse(Option("--max-mb", "64"), CultureInfo.InvariantCulture) << 20);

if (MpiLibraryChoice.LaunchedByMpiexec(Environment.GetEnvironmentVariable))
{
    using var world = Communicators.FromEnvironment();
    var baseline = JsonSerializer.Deserialize<List<Measurement>>(File.ReadAllText(Option("--baseline", "")))!;
    return FailFast.Run(world, () => CommWorker.Run(world, settings, baseline), Console.Error, verbose: true);
}

// Parent: the memcpy baseline alone on the machine, then one MPI job per rank count.
var memcpy = CommWorker.MeasureMemcpy(settings);
string baselineFile = Path.Combine(Path.GetTempPath(), $"commbench-memcpy-{Environment.ProcessId}.json");
File.WriteAllText(baselineFile, JsonSerializer.Serialize(memcpy));
string self = Path.Combine(AppContext.BaseDirectory, "CommBench.dll");
try
{
    foreach (string ranks in Option("--ranks", "2,4").Split(','))
    {
        var info = new ProcessStartInfo(MpiJobLauncher.Mpiexec) { UseShellExecute = false };
        foreach (string a in new[] { "-n", ranks, "dotnet", self, "--baseline", baselineFile }.Concat(args))
            info.ArgumentList.Add(a);
        info.Environment["OMP_NUM_THREADS"] = "1";
        using var job = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {MpiJobLauncher.Mpiexec}");
        job.WaitForExit();
        if (job.ExitCode != 0) return job.ExitCode;
    }
}
finally
{
    File.Delete(baselineFile);
}
return 0;
