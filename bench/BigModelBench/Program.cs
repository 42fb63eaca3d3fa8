using System.Diagnostics;
using System.Globalization;
using DeepSeekV3.Bench;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;

// One engine on one big model per run (two copies of a 16B model do not fit in 24 GB): time to load, resident memory,
// prefill tokens/s of a 512-token prompt, decode tokens/s at batch 1 and 4, effective GB/s of weights read per step
// against a plain read-bandwidth loop measured in the same process after the engine is gone. Usage:
//   dotnet run -c Release --project bench/BigModelBench -- --engine llama|ours --config DIR/config.json
//     [--gguf FILE] [--model DIR] [--name LABEL] [--threads 2] [--prompt 512] [--steps 16] [--batches 1,4]
//     [--context 64] [--repeats 3] [--mmap true] [--pair NAME] [--round N] [--prefill bf16|f32|rows]
//   dotnet run -c Release --project bench/BigModelBench -- --summarize SINCE_UTC   (ranges over the runs since then)
//   dotnet run -c Release --project bench/BigModelBench -- --write-config FILE     (InferenceBench's 276M config.json)
// bench/BigModelBench/run.sh runs both engines one after the other on a v2-lite checkpoint and its GGUF.
var options = BenchArgs.Parse(args);
if (options.TryGetValue("write-config", out var configFile))
{
    BenchModel.Config.Save(configFile);         // InferenceBench's 276M model, for run.sh's `dsv3 init --config`
    return 0;
}
if (options.TryGetValue("summarize", out var since))
    return BigModelSummary.Write(DateTime.Parse(since, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal));
string engineName = options.GetValueOrDefault("engine", "llama");
int threads = Int("threads", 2), promptLength = Int("prompt", 512), steps = Int("steps", 16), repeats = Int("repeats", 3);
int contextLength = Int("context", 64);
const int warmupSteps = 2;
int[] batches = options.GetValueOrDefault("batches", "1,4").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray();
bool memoryMap = bool.Parse(options.GetValueOrDefault("mmap", "true"));
string configPath = options.TryGetValue("config", out var c) ? c
    : Path.Combine(options["model"], ModelCheckpoint.ConfigFile);
if (!File.Exists(configPath))
{
    Console.Error.WriteLine($"{configPath}: no such file (give --model DIR with a config.json, or --config FILE)");
    return 2;
}
var config = ModelConfig.Load(configPath);
string label = options.GetValueOrDefault("name", Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(configPath))) ?? "model");

var recorder = new BenchResults();
var (engine, traffic, weightsPath) = engineName switch
{
    "llama" => ((IBigModelEngine)new LlamaCppBigEngine(options["gguf"], threads, memoryMap,
            contextSize: (uint)(Math.Max(promptLength, batches.Max() * (contextLength + steps)) + 16), sequences: (uint)batches.Max()),
        WeightTraffic.FromGguf(options["gguf"], config), options["gguf"]),
    "ours" => (new FusedStoredEngine(options["model"], config, DeepSeekV3.Inference.Fused.WeightsMode.Stored, threads,
            options.GetValueOrDefault("prefill", "bf16") switch
            {
                "bf16" => DeepSeekV3.Kernels.GemmPrecision.Bf16,
                "f32" => DeepSeekV3.Kernels.GemmPrecision.F32,
                "rows" => null,
                var p => throw new ArgumentException($"--prefill {p}: expected bf16, f32 or rows"),
            }),
        WeightTraffic.FromCheckpoint(options["model"], config), options["model"]),
    _ => throw new ArgumentException($"--engine {engineName}: expected llama or ours"),
};
long weightBytes = File.Exists(weightsPath) ? new FileInfo(weightsPath).Length
    : Directory.EnumerateFiles(weightsPath, "*.safetensors").Sum(f => new FileInfo(f).Length);
var size = new ModelSize(config);
Console.WriteLine($"{engine.Name} on {label}: {size.TotalParameters / 1e9:F2}B parameters ({size.ActivatedParameters / 1e9:F2}B active), " +
                  $"{weightBytes / 1e9:F2} GB of weights, {threads} threads, load average {recorder.LoadBefore}");

var rng = new Random(7);
long[] prompt = Enumerable.Range(0, promptLength).Select(_ => (long)rng.Next(config.VocabSize)).ToArray();
long residentBefore = ProcessMemory.ResidentBytes();
var watch = Stopwatch.StartNew();
engine.Load();
double loadSeconds = watch.Elapsed.TotalSeconds;
long residentAfterLoad = ProcessMemory.ResidentBytes();
Console.WriteLine($"loaded in {loadSeconds:F1} s, resident {residentAfterLoad / 1e9:F2} GB");

// The first prefill also faults memory-mapped weights in: reported apart, as part of "time to first token".
double coldPrefill = engine.Prefill(prompt);
Console.WriteLine($"first prefill (cold) {coldPrefill:F1} s");
var prefill = Enumerable.Range(0, repeats).Select(_ => engine.Prefill(prompt)).ToList();
Console.WriteLine($"prefill {promptLength / Median(prefill):F1} tok/s (median of {repeats})");

var decode = new List<object>();
foreach (int batch in batches)
{
    long[][] contexts = Enumerable.Range(0, batch)
        .Select(_ => Enumerable.Range(0, contextLength).Select(_ => (long)rng.Next(config.VocabSize)).ToArray()).ToArray();
    var stepMedians = new List<double>();
    for (int r = 0; r < repeats; r++)
        stepMedians.Add(Median(engine.Decode(contexts, batch, steps).Skip(warmupSteps).ToList()));
    double step = Median(stepMedians);
    double gigabytes = traffic.BytesPerStep(batch) / 1e9;
    var stages = engine.StageMilliseconds();     // of the last repeat
    decode.Add(new { batch, step_ms = step * 1e3, step_ms_per_repeat = stepMedians.Select(s => s * 1e3), tokens_per_second = batch / step,
        weight_gb_per_step = gigabytes, effective_gb_per_second = gigabytes / step, stage_ms = stages,
        routed_expert_gb_per_second = stages?.GetValueOrDefault("RoutedExperts") is > 0 and var expertMs ? traffic.ExpertBytesPerStep(batch) / 1e9 / (expertMs / 1e3) : (double?)null });
    Console.WriteLine($"decode batch {batch}: {step * 1e3:F1} ms/step, {batch / step:F2} tok/s, {gigabytes:F2} GB of weights per step " +
                      $"-> {gigabytes / step:F1} GB/s (step medians {string.Join(", ", stepMedians.Select(s => (s * 1e3).ToString("F1", CultureInfo.InvariantCulture)))} ms)");
    if (stages is not null)
        Console.WriteLine("  stages (ms/step, last repeat): " + string.Join(", ", stages.Where(kv => kv.Value >= 0.05)
            .Select(kv => $"{kv.Key} {kv.Value.ToString("F2", CultureInfo.InvariantCulture)}")));
}
long residentEnd = ProcessMemory.ResidentBytes(), peakResident = ProcessMemory.PeakResidentBytes();
long hugeMapped = ProcessMemory.FileHugePageBytes();
engine.Dispose();

// Measured after the engine is gone so that its buffer neither competes with the weights nor raises VmHWM above.
double bandwidth = ReadBandwidth.GigabytesPerSecond(threads), bandwidth1 = ReadBandwidth.GigabytesPerSecond(1);
Console.WriteLine($"plain read bandwidth: {bandwidth:F1} GB/s on {threads} threads, {bandwidth1:F1} GB/s on 1; " +
                  $"resident {residentEnd / 1e9:F2} GB at the end, peak {peakResident / 1e9:F2} GB, {hugeMapped / 1e9:F2} GB of files mapped with 2 MB entries; " +
                  $"load average after {BenchResults.LoadAverage()}");

var report = new
{
    engine = engine.Name,
    model = new { label, config_path = configPath, weights = weightsPath, weight_bytes = weightBytes, parameters = size.TotalParameters,
        activated_parameters = size.ActivatedParameters, weight_bytes_per_decode_step = batches.ToDictionary(b => b.ToString(CultureInfo.InvariantCulture), traffic.BytesPerStep) },
    pair = options.GetValueOrDefault("pair", label),
    round = Int("round", 1),
    settings = new { threads, prompt_length = promptLength, steps, warmup_steps = warmupSteps, context_per_sequence = contextLength, repeats, memory_map = memoryMap },
    load_seconds = loadSeconds,
    resident_bytes = new { before_load = residentBefore, after_load = residentAfterLoad, end = residentEnd, peak = peakResident },
    file_pmd_mapped_bytes = hugeMapped,
    first_prefill_seconds = coldPrefill,
    prefill_seconds = prefill,
    prefill_tokens_per_second = promptLength / Median(prefill),
    decode,
    read_bandwidth_gb_per_second = new { threads = bandwidth, one_thread = bandwidth1 },
};
string file = recorder.Save($"bigmodel-{label}-{engineName}-{threads}t", report);
Console.WriteLine($"wrote {file}");
return 0;

int Int(string name, int fallback) => options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

static double Median(IReadOnlyList<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
