using System.Diagnostics;
using System.Globalization;
using DeepSeekV3.Training.Metrics;

namespace DeepSeekV3.Bench;

/// <summary>One training job of the parallel comparison and what its steps measured (the first step, warm-up, left out).</summary>
public sealed record ParallelRun(string Setup, int Round, int Ranks, int ThreadsPerRank, double TokensPerSecond,
    double StepSeconds, double CommunicationShare, double DispatchSecondsPerStep, double FinalLoss);

/// <summary>A setup's runs summarized: medians and min–max over the rounds.</summary>
public sealed record ParallelSummary(string Setup, double TokensPerSecondMedian, double TokensPerSecondMin, double TokensPerSecondMax,
    double CommunicationShareMedian, double DispatchSecondsMedian);

/// <summary>
/// Training throughput of one process against data parallel and expert parallel over MPI, on the `small` preset:
/// each setup is a real `dsv3 train` job (mpiexec.mpich for the parallel ones), and the setups take turns within
/// each round so the machine's load falls on all of them alike. The metrics each job writes give tokens/s, the
/// share of step time spent blocked in communication, and the expert dispatch/combine time, which with and without
/// the two-micro-batch overlap gives the share of it the overlap hides.
/// </summary>
public static class ParallelThroughput
{
    /// <summary>One job: its name, ranks, torch threads per rank and extra `dsv3 train` arguments.</summary>
    public sealed record Setup(string Name, int Ranks, int Threads, string[] Extra);

    /// <summary>The data/expert-parallel comparison (`--part parallel`).</summary>
    public static readonly Setup[] ParallelSetups =
    [
        new("1 process, 1 thread", 1, 1, []),
        new("1 process, 2 threads", 1, 2, []),
        new("DP 2 (ZeRO-1)", 2, 1, []),
        new("EP 2, overlap", 2, 1, ["--ep", "2"]),
        new("EP 2, blocking", 2, 1, ["--ep", "2", "--no-overlap"]),
    ];

    /// <summary>`small`, 16 × 256 tokens per step in micro-batches of 4.</summary>
    public static readonly string[] ParallelModel =
        ["--preset", "small", "--seq-len", "256", "--batch-tokens", "4096", "--micro-batch", "4"];

    /// <summary>Runs <paramref name="setups"/> in turn, <paramref name="rounds"/> times, each a `dsv3 train` job of
    /// <paramref name="steps"/> steps with <paramref name="model"/> (model, sequence and batch arguments).</summary>
    public static List<ParallelRun> Run(IReadOnlyList<Setup> setups, string[] model, string[] data, string tokenCache, string scratch,
        int rounds, int steps)
    {
        string dsv3 = Path.Combine(AppContext.BaseDirectory, "dsv3.dll");
        var runs = new List<ParallelRun>();
        for (int round = 1; round <= rounds; round++)
            foreach (var setup in setups)
            {
                string output = Path.Combine(scratch, $"parallel-{round}-{runs.Count}");
                if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
                string[] train =
                [
                    "train", .. model, "--data", .. data, "--out", output, "--token-cache", tokenCache, "--no-batch-ramp", "--steps",
                    steps.ToString(CultureInfo.InvariantCulture), "--eval-every", "0", "--val-fraction", "0", "--no-plots",
                    "--log-every", "1", "--threads", setup.Threads.ToString(CultureInfo.InvariantCulture), .. setup.Extra,
                ];
                var start = setup.Ranks == 1
                    ? new ProcessStartInfo("dotnet") { ArgumentList = { dsv3 } }
                    : new ProcessStartInfo("mpiexec.mpich") { ArgumentList = { "-n", setup.Ranks.ToString(CultureInfo.InvariantCulture), "dotnet", dsv3 } };
                foreach (string a in train) start.ArgumentList.Add(a);
                start.Environment["OMP_NUM_THREADS"] = setup.Threads.ToString(CultureInfo.InvariantCulture);
                start.RedirectStandardOutput = true;
                using (var job = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}"))
                {
                    string log = job.StandardOutput.ReadToEnd();
                    job.WaitForExit();
                    if (job.ExitCode != 0)
                        throw new InvalidOperationException($"{setup.Name}: {start.FileName} exited {job.ExitCode}\n{log}");
                }
                var timed = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName)).Skip(1).ToList();
                double seconds = timed.Sum(m => m.Seconds);
                var run = new ParallelRun(setup.Name, round, setup.Ranks, setup.Threads, timed.Sum(m => m.Tokens) / seconds,
                    seconds / timed.Count, timed.Sum(m => m.CommunicationSeconds) / seconds,
                    timed.Sum(m => m.DispatchSeconds) / timed.Count, timed[^1].Loss);
                Console.WriteLine($"round {round} {setup.Name}: {run.TokensPerSecond:F0} tokens/s, {run.StepSeconds:F2} s/step, " +
                                  $"communication {run.CommunicationShare * 100:F1}% of the step, dispatch+combine {run.DispatchSecondsPerStep:F3} s/step, " +
                                  $"loss {run.FinalLoss:F4}");
                runs.Add(run);
                Directory.Delete(output, recursive: true);
            }
        return runs;
    }

    public static List<ParallelSummary> Summarize(IReadOnlyList<ParallelRun> runs) =>
        runs.GroupBy(r => r.Setup).Select(g => new ParallelSummary(g.Key,
            Median(g.Select(r => r.TokensPerSecond)), g.Min(r => r.TokensPerSecond), g.Max(r => r.TokensPerSecond),
            Median(g.Select(r => r.CommunicationShare)), Median(g.Select(r => r.DispatchSecondsPerStep)))).ToList();

    /// <summary>Per round: 1 − (blocked dispatch time with overlap) / (without); the share of the expert-parallel
    /// communication the overlap hid (negative: the overlap cost more than it hid).</summary>
    public static List<double> HiddenShares(IReadOnlyList<ParallelRun> runs) =>
        runs.GroupBy(r => r.Round).Select(g =>
        {
            double overlap = g.Single(r => r.Setup == "EP 2, overlap").DispatchSecondsPerStep;
            double blocking = g.Single(r => r.Setup == "EP 2, blocking").DispatchSecondsPerStep;
            return 1 - overlap / blocking;
        }).ToList();

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
