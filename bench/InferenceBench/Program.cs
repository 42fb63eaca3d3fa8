using System.Globalization;
using System.Text.Json;
using DeepSeekV3.Bench;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using static TorchSharp.torch;

// Prefill (512-token prompt) and batch-1 decode throughput of our engine vs llama.cpp on the same GGUF-exported
// random DeepSeek-V3-shaped model, same thread count, medians over repeats; the engines take turns, one repeat each per round. Usage:
//   dotnet run -c Release --project bench/InferenceBench -- [--threads N] [--repeats N] [--decode-steps N]
//     [--prompt N] [--work DIR] [--engines ours,torch,llama] [--model DIR] [--batch N]
// ours = LibTorch prefill + fused decode (what GenerationEngine runs); torch = LibTorch forward for every step.
// --model benchmarks an existing model directory (e.g. models/default) instead of the random 276M one.
var options = BenchArgs.Parse(args);
int threads = Int("threads", 2), repeats = Int("repeats", 3), decodeSteps = Int("decode-steps", 64), promptLength = Int("prompt", 512);
const int warmupSteps = 2;
string workDir = options.GetValueOrDefault("work", Path.Combine(Path.GetTempPath(), "dsv3-inference-bench"));
string[] engines = options.GetValueOrDefault("engines", "ours,torch,llama").Split(',');
int batch = Int("batch", 8);

var recorder = new BenchResults();
set_num_threads(threads);
set_num_interop_threads(1);
var (modelDir, gguf) = options.TryGetValue("model", out var given)
    ? BenchModel.Export(given, workDir)
    : BenchModel.Prepare(workDir, seed: 2024);
var benchConfig = ModelCheckpoint.LoadConfig(modelDir);
var size = new ModelSize(benchConfig);
long parameters = size.TotalParameters, activated = size.ActivatedParameters;
using var generator = new Generator(7);
long[] prompt = randint(0, benchConfig.VocabSize, [promptLength], dtype: ScalarType.Int64, generator: generator).data<long>().ToArray();

var engineList = new List<IBenchEngine>();
if (engines.Contains("ours"))
    engineList.Add(new TorchEngineBench(modelDir, prompt, decodeSteps, warmupSteps, OurEngine.Fused));
if (engines.Contains("torch"))
    engineList.Add(new TorchEngineBench(modelDir, prompt, decodeSteps, warmupSteps, OurEngine.Torch));
if (engines.Contains("llama"))
    engineList.Add(new LlamaCppBench(gguf, prompt, decodeSteps, warmupSteps, threads));
// Round 0 warms up allocators, kernels and caches and is not recorded; then one repeat per engine per round.
for (int round = 0; round <= repeats; round++)
    foreach (var engine in engineList)
        engine.Repeat(record: round > 0);
var results = engineList.Select(e => e.Timings).ToList();
var profile = engineList.OfType<TorchEngineBench>().Select(e => e.Profile).FirstOrDefault(p => p is not null);
foreach (var engine in engineList) engine.Dispose();
(double TokensPerSecond, double PrefillSeconds)? batched = engines.Contains("ours") && batch > 1
    ? TorchEngineBench.RunBatched(modelDir, prompt, batch, decodeSteps)
    : null;

Console.WriteLine($"load average before/after: {recorder.LoadBefore} / {BenchResults.LoadAverage()} (the machine is shared)");
Console.WriteLine($"model: {(given is null ? "random DeepSeek-V3-shaped" : given)}, {parameters / 1e6:F1}M parameters ({activated / 1e6:F1}M active), f32; threads {threads}; " +
                  $"prompt {promptLength}; {repeats} repeats × {decodeSteps - warmupSteps} decode steps; medians");
Console.WriteLine($"{"engine",-34} {"prefill tok/s",14} {"decode ms/tok",14} {"decode tok/s",13}");
foreach (var t in results)
    Console.WriteLine($"{t.Engine,-34} {t.PrefillTokensPerSecond(promptLength),14:F1} {t.DecodeMillisecondsP50,14:F2} {t.DecodeTokensPerSecond,13:F1}");
if (batched is { } b)
    Console.WriteLine($"{$"DeepSeekV3.NET, batch {batch}",-34} {"",14} {"",14} {b.TokensPerSecond,13:F1}  (generated tokens/s over all {batch} sequences)");
var ours = results.FirstOrDefault(r => r.Engine == "DeepSeekV3.NET");
var llama = results.FirstOrDefault(r => r.Engine.StartsWith("llama.cpp", StringComparison.Ordinal));
if (ours is not null && llama is not null)
    Console.WriteLine($"ours / llama.cpp: prefill {ours.PrefillTokensPerSecond(promptLength) / llama.PrefillTokensPerSecond(promptLength):F2}×, " +
                      $"decode {ours.DecodeTokensPerSecond / llama.DecodeTokensPerSecond:F2}×");

// Where our decode step's time goes (stage timings of the recorded fused decode steps; includes warm-up steps).
Dictionary<string, double>? stages = null;
if (profile is { Passes: > 0 })
{
    stages = Enum.GetValues<DeepSeekV3.Inference.Fused.DecodeStage>().ToDictionary(st => st.ToString(), st => profile.Milliseconds(st) / profile.Passes);
    Console.WriteLine($"where a DeepSeekV3.NET decode step goes (mean of {profile.Passes} steps, {profile.TotalMilliseconds / profile.Passes:F2} ms):");
    foreach (var (stage, ms) in stages)
        Console.WriteLine($"  {stage,-22} {ms,8:F3} ms  {ms / (profile.TotalMilliseconds / profile.Passes),6:P1}");
}

// One canonical file per model and thread count: inference-276m-1t.json for the random model (named by its size),
// inference-default-2t.json for --model models/default (named by its directory).
string modelName = given is null
    ? $"{Math.Round(parameters / 1e6).ToString(CultureInfo.InvariantCulture)}m"
    : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(given))).ToLowerInvariant();
var report = new
{
    model = new { path = given ?? "random", parameters, activated_parameters = activated, config = benchConfig },
    decode_step_ms_by_stage = stages,
    batched_decode = batched is { } bd ? new { batch, tokens_per_second = bd.TokensPerSecond, prefill_seconds = bd.PrefillSeconds } : null,
    settings = new { threads, repeats, decode_steps = decodeSteps, warmup_steps = warmupSteps, prompt_length = promptLength, dtype = "f32" },
    engines = results.Select(t => new
    {
        engine = t.Engine,
        prefill_tokens_per_second = t.PrefillTokensPerSecond(promptLength),
        decode_ms_per_token_p50 = t.DecodeMillisecondsP50,
        decode_tokens_per_second = t.DecodeTokensPerSecond,
        prefill_seconds = t.PrefillSeconds,
        decode_step_seconds = t.DecodeStepSeconds,
    }),
};
string jsonPath = recorder.Save($"inference-{modelName}-{threads}t", report);
Console.WriteLine($"wrote {jsonPath}");
return 0;

int Int(string name, int fallback) => options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
