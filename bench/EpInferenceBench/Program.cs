// Expert-parallel inference benchmark: decode tokens/s and expert balance of `dsv3 generate --ep N` on 2 and 4 ranks
// with 0, 1 and 2 redundant experts per rank (EPLB re-planning every 16 decode steps), on the bundled model with a
// skewed router: every MoE layer's correction bias raised by --skew × (G−1−g)/(G−1) for the experts of group g, so
// groups 0 and 1 win most tokens. One process (LibTorch backend, the path EP runs on) is the reference row. Setups
// take turns within each round, each a real mpiexec job generating greedily from the same prompt.
// Usage: dotnet run -c Release --project bench/EpInferenceBench -- [--rounds R] [--skew S] [--tokens N] [--rebalance-every S]
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using DeepSeekV3.Bench;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Distributed;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var recorder = new BenchResults();
int rounds = 3, maxTokens = 64, rebalanceEvery = 16;
double skew = 0.3;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--rounds") rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--skew") skew = double.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--tokens") maxTokens = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--rebalance-every") rebalanceEvery = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else throw new ArgumentException($"unknown argument {args[i]}");
}
string repo = BenchPaths.RepoRoot();
string model = SkewedModel(Path.Combine(repo, "models", "default"), Path.Combine(repo, ".data", "ep-bench-model"), skew);
string prompt = string.Join(",", Enumerable.Range(0, 32).Select(i => 100 + 37 * i));   // 32 tokens, fixed
var setups = new List<(int Ranks, int Redundant)> { (1, 0) };
foreach (int ranks in new[] { 2, 4 })
    foreach (int redundant in new[] { 0, 1, 2 })
        setups.Add((ranks, redundant));

var runs = new List<EpRun>();
for (int round = 1; round <= rounds; round++)
    foreach (var (ranks, redundant) in setups)
    {
        var run = Run(round, ranks, redundant);
        Console.WriteLine($"round {round} {run.Setup}: {run.DecodeTokensPerSecond:F1} tokens/s; balancedness first window {run.BalancednessFirst:F3}, " +
                          $"planned {run.BalancednessPlanned:F3}, last window {run.BalancednessLast:F3}; {run.ExpertsMoved} experts moved");
        runs.Add(run);
    }

var summary = runs.GroupBy(r => r.Setup).Select(g => new EpSummary(g.Key,
    Median(g.Select(r => r.DecodeTokensPerSecond)), g.Min(r => r.DecodeTokensPerSecond), g.Max(r => r.DecodeTokensPerSecond),
    Median(g.Select(r => r.BalancednessFirst)), Median(g.Select(r => r.BalancednessPlanned)),
    Median(g.Select(r => r.BalancednessLast)), g.Min(r => r.BalancednessLast), g.Max(r => r.BalancednessLast))).ToList();
Console.WriteLine();
Console.WriteLine($"bundled model, router skew {skew}, {maxTokens} greedy tokens after a 32-token prompt, re-plan every {rebalanceEvery} decode steps, {rounds} rounds");
Console.WriteLine("| setup | decode tokens/s, median (min–max) | balancedness: initial placement (first window) | planned by the first re-plan | measured in the last window, median (min–max) |");
Console.WriteLine("|---|---:|---:|---:|---:|");
foreach (var s in summary)
    Console.WriteLine(s.Setup.StartsWith("1 process", StringComparison.Ordinal)
        ? $"| {s.Setup} | {s.TokensPerSecondMedian:F1} ({s.TokensPerSecondMin:F1}–{s.TokensPerSecondMax:F1}) | – | – | – |"
        : $"| {s.Setup} | {s.TokensPerSecondMedian:F1} ({s.TokensPerSecondMin:F1}–{s.TokensPerSecondMax:F1}) | {s.BalancednessFirstMedian:F3} | " +
          $"{s.BalancednessPlannedMedian:F3} | {s.BalancednessLastMedian:F3} ({s.BalancednessLastMin:F3}–{s.BalancednessLastMax:F3}) |");
string written = recorder.Save("ep-inference", new { skew, max_tokens = maxTokens, rebalance_every = rebalanceEvery, runs, summary });
Console.WriteLine($"\nwrote {written}");
return 0;

EpRun Run(int round, int ranks, int redundant)
{
    string dsv3 = Path.Combine(AppContext.BaseDirectory, "dsv3.dll");
    string[] generate = ["generate", "--model", model, "--tokens", prompt, "--max-tokens", $"{maxTokens}", "--backend", "torch"];
    var start = ranks == 1
        ? new ProcessStartInfo("dotnet") { ArgumentList = { dsv3 } }
        : new ProcessStartInfo("mpiexec.mpich") { ArgumentList = { "-n", $"{ranks}", "dotnet", dsv3 } };
    foreach (string a in generate) start.ArgumentList.Add(a);
    if (ranks > 1)
        foreach (string a in new[] { "--ep", $"{ranks}", "--redundant-experts", $"{redundant}", "--rebalance-every", $"{rebalanceEvery}" })
            start.ArgumentList.Add(a);
    start.Environment["OMP_NUM_THREADS"] = "1";
    start.RedirectStandardOutput = start.RedirectStandardError = true;
    using var job = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {start.FileName}");
    var stdout = job.StandardOutput.ReadToEndAsync();
    string log = job.StandardError.ReadToEnd();
    job.WaitForExit();
    if (job.ExitCode != 0) throw new InvalidOperationException($"{ranks} ranks, {redundant} redundant: exit {job.ExitCode}\n{stdout.Result}\n{log}");
    double rate = Number(log, @"then ([\d.]+) tokens/s");
    string setup = ranks == 1 ? "1 process (LibTorch)" : $"EP {ranks}, {redundant} redundant per rank";
    if (ranks == 1) return new EpRun(setup, round, ranks, redundant, rate, 0, 0, 0, 0);
    var first = Regex.Match(log, @"re-plan after \d+ decode steps .*?balancedness ([\d.]+) → ([\d.]+)");
    return new EpRun(setup, round, ranks, redundant, rate, Parse(first.Groups[1].Value), Parse(first.Groups[2].Value),
        Number(log, @"since the last re-plan \(\d+ pairs\): balancedness ([\d.]+)"), (int)Number(log, @"re-plan\(s\), (\d+) experts moved"));
}

static double Number(string text, string pattern)
{
    var match = Regex.Match(text, pattern);
    return match.Success ? Parse(match.Groups[1].Value) : throw new InvalidOperationException($"no \"{pattern}\" in:\n{text}");
}

static double Parse(string value) => double.Parse(value, CultureInfo.InvariantCulture);

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

/// <summary>The bundled model with every MoE router's correction bias raised by skew × (G−1−g)/(G−1) for group g.</summary>
static string SkewedModel(string source, string target, double skew)
{
    using var network = ModelCheckpoint.Load(source);
    int experts = network.Config.NRoutedExperts, groups = network.Config.NGroup;
    var raise = tensor(Enumerable.Range(0, experts).Select(e => (float)(skew * (groups - 1 - e / (experts / groups)) / Math.Max(1, groups - 1))).ToArray());
    using (no_grad())
        foreach (var moe in ExpertParallel.MoeLayers(network))
            moe.Gate.ExpertScoreCorrectionBias!.add_(raise);
    ModelCheckpoint.Save(network, target);
    return target;
}

/// <summary>One generation job: decode rate; balancedness measured over the first window (initial placement), planned by
/// the first re-plan, and measured over the last window; experts moved over all re-plans.</summary>
internal sealed record EpRun(string Setup, int Round, int Ranks, int RedundantPerRank, double DecodeTokensPerSecond,
    double BalancednessFirst, double BalancednessPlanned, double BalancednessLast, int ExpertsMoved);

internal sealed record EpSummary(string Setup, double TokensPerSecondMedian, double TokensPerSecondMin, double TokensPerSecondMax,
    double BalancednessFirstMedian, double BalancednessPlannedMedian, double BalancednessLastMedian, double BalancednessLastMin,
    double BalancednessLastMax);
