// Decode speed of one model with its weights held four ways (--weights stored|fp8|bf16|f32), side by side in one
// process, one mode at a time (each opened, timed and disposed before the next), modes taking turns per round:
// the fused decoder's batch-1 and batch-4 decode steps, tokens/s and the weight bytes a step reads per second.
// Usage: dotnet run -c Release --project bench/WeightsBench -- [--model DIR] [--steps N] [--repeats N] [--threads N]
//   [--modes stored,fp8,bf16,f32] [--batches 1,4] [--work DIR]
// Without --model, a random `small`-preset model saved as `dsv3 init --fp8` would (block linears FP8, the rest bf16).
// --part prefill [--prompt 512] [--repeats 2] [--work DIR]: prefill tokens/s instead (PrefillComparison.cs).
// --part mapping [--model DIR] [--repeats 3] [--warm-steps 64] [--cache cold|warm]: batch-1 decode of the stored
//   weights from a cold page cache (the files evicted with posix_fadvise before each run; the first --warm-steps steps
//   fault them in and are not timed) or a warm one (each file read through first, as run.sh's `cat`), mapped with the
//   OS's default pages vs advised for 2 MB pages.
using System.Diagnostics;
using DeepSeekV3.Bench;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

var options = BenchArgs.Parse(args);
if (options.GetValueOrDefault("part") == "prefill")
{
    set_num_threads(int.Parse(options.GetValueOrDefault("threads", "2")));
    var prefillRecorder = new BenchResults();
    string work = options.GetValueOrDefault("work", Path.Combine(BenchPaths.RepoRoot(), ".data", "weights-bench"));
    var result = PrefillComparison.Run(work, int.Parse(options.GetValueOrDefault("prompt", "512")),
                                       int.Parse(options.GetValueOrDefault("repeats", "2")), seed: 1);
    Console.WriteLine($"load average before: {prefillRecorder.LoadBefore}, after: {BenchResults.LoadAverage()}");
    Console.WriteLine($"wrote {prefillRecorder.Save($"weights-prefill-{get_num_threads()}t", result)}");
    return;
}
int steps = int.Parse(options.GetValueOrDefault("steps", "32")), repeats = int.Parse(options.GetValueOrDefault("repeats", "3"));
int threads = int.Parse(options.GetValueOrDefault("threads", "2"));
var modes = options.GetValueOrDefault("modes", "stored,fp8,bf16,f32").Split(',').Select(m => Enum.Parse<WeightsMode>(m, ignoreCase: true)).ToArray();
var batches = options.GetValueOrDefault("batches", "1,4").Split(',').Select(int.Parse).ToArray();
set_num_threads(threads);
var recorder = new BenchResults();

string directory = options.GetValueOrDefault("model", Path.Combine(options.GetValueOrDefault("work", Path.GetTempPath()), "dsv3-weights-bench-small-fp8"));
if (!options.ContainsKey("model") && !File.Exists(Path.Combine(directory, ModelCheckpoint.ConfigFile)))
{
    Console.WriteLine($"creating a random small-preset FP8 model in {directory}");
    using var model = new DeepSeekV3ForCausalLM(ModelPresets.Small);
    ModelCheckpoint.Save(model, directory, new ModelCheckpoint.SaveOptions { Fp8 = true });
}
var config = ModelCheckpoint.LoadConfig(directory);
Console.WriteLine($"{directory}: {new ModelSize(config).TotalParameters / 1e6:F1}M parameters, {threads} threads, {steps} decode steps after a 16-token prompt per sequence, {repeats} rounds");

if (options.GetValueOrDefault("part") == "mapping")
{
    var files = Directory.GetFiles(directory, "*.safetensors");
    int warmSteps = int.Parse(options.GetValueOrDefault("warm-steps", "64"));
    bool warmCache = options.GetValueOrDefault("cache", "cold") == "warm";
    Console.WriteLine(warmCache ? "page cache: each file read through once before each run (as `cat FILE > /dev/null`)"
                                : "page cache: each file evicted before each run");
    var mapped = new Dictionary<bool, (List<double> TokensPerSecond, List<long> PmdBytes)> { [false] = ([], []), [true] = ([], []) };
    long bytesPerStep = 0;
    for (int round = 0; round <= repeats; round++)                     // round 0 warms up and is not recorded
        foreach (bool huge in new[] { false, true })
        {
            foreach (string file in files)
                if (warmCache) PageCache.ReadThrough(file); else PageCache.Evict(file);
            using var weights = new MappedCheckpointWeights(directory, hugePages: huge);
            using var decoder = new FusedDecoder(config, weights, threads);
            bytesPerStep = BatchOneStepBytes(config, weights);
            // Not timed: the weights fault in as decoding reads them, experts in the order routing picks them, as in
            // a user's first generation (64 steps leave few experts unread: (1 − K/E)^64 is 2% at 6 of 64).
            Decode(decoder, 1, warmSteps);
            double tokensPerSecond = Decode(decoder, 1);
            if (round == 0) continue;
            mapped[huge].TokensPerSecond.Add(tokensPerSecond);
            mapped[huge].PmdBytes.Add(ProcessMemory.FileHugePageBytes());
        }
    Console.WriteLine($"load average before: {recorder.LoadBefore}");
    Console.WriteLine($"{"mapping",-22} {"tokens/s median [min, max]",30} {"weight GB/s",12} {"2 MB-mapped MB",15}");
    var mappingRows = new List<Dictionary<string, object>>();
    foreach (bool huge in new[] { false, true })
    {
        var s = mapped[huge].TokensPerSecond.Order().ToArray();
        string name = huge ? "advised for 2 MB pages" : "OS default";
        Console.WriteLine($"{name,-22} {$"{s[s.Length / 2]:F1} [{s[0]:F1}, {s[^1]:F1}]",30} {bytesPerStep * s[s.Length / 2] / 1e9,12:F2} {string.Join("/", mapped[huge].PmdBytes.Select(b => b >> 20)),15}");
        mappingRows.Add(new() { ["mapping"] = huge ? "hugepage-advised" : "default", ["tokens_per_s"] = s, ["batch1_step_bytes"] = bytesPerStep,
                                ["file_pmd_mapped_bytes"] = mapped[huge].PmdBytes });
    }
    Console.WriteLine($"wrote {recorder.Save("weights-mapping", new { model = directory, threads, steps, rounds = repeats, rows = mappingRows })}");
    return;
}

var samples = new Dictionary<(WeightsMode, int), List<double>>();
var loadSeconds = new Dictionary<WeightsMode, List<double>>();
var resident = new Dictionary<WeightsMode, long>();
var stepBytes = new Dictionary<WeightsMode, long>();
for (int round = 0; round <= repeats; round++)                         // round 0 warms up and is not recorded
    foreach (var mode in modes)
    {
        long residentBefore = ProcessMemory.ResidentBytes();
        var watch = Stopwatch.StartNew();
        using var weights = CheckpointWeights.Open(directory, mode);
        using var decoder = new FusedDecoder(config, weights, threads);
        double load = watch.Elapsed.TotalSeconds;
        stepBytes[mode] = BatchOneStepBytes(config, weights);
        foreach (int batch in batches)
        {
            double tokensPerSecond = Decode(decoder, batch);
            if (round == 0) continue;
            (samples.TryGetValue((mode, batch), out var list) ? list : samples[(mode, batch)] = []).Add(tokensPerSecond);
        }
        if (round == 0) continue;
        (loadSeconds.TryGetValue(mode, out var loads) ? loads : loadSeconds[mode] = []).Add(load);
        resident[mode] = ProcessMemory.ResidentBytes() - residentBefore;
    }

Console.WriteLine($"load average before: {recorder.LoadBefore}");
Console.WriteLine($"{"weights",-8} {"batch",5} {"tokens/s median [min, max]",30} {"weight GB/s (batch 1 bytes/step)",34} {"load s",8} {"resident growth MB",19}");
var rows = new List<Dictionary<string, object>>();
foreach (var mode in modes)
    foreach (int batch in batches)
    {
        var s = samples[(mode, batch)].Order().ToArray();
        double median = s[s.Length / 2], stepsPerSecond = median / batch;
        double gbPerSecond = stepBytes[mode] * stepsPerSecond / 1e9;
        Console.WriteLine($"{mode.ToString().ToLowerInvariant(),-8} {batch,5} {$"{median:F1} [{s[0]:F1}, {s[^1]:F1}]",30} {gbPerSecond,34:F2} {loadSeconds[mode].Order().ElementAt(loadSeconds[mode].Count / 2),8:F2} {resident[mode] / 1e6,19:F0}");
        rows.Add(new() { ["weights"] = mode.ToString().ToLowerInvariant(), ["batch"] = batch, ["tokens_per_s"] = s,
                         ["batch1_step_bytes"] = stepBytes[mode], ["weight_gb_per_s_at_median"] = Math.Round(gbPerSecond, 3),
                         ["load_s"] = loadSeconds[mode], ["resident_growth_bytes"] = resident[mode] });
    }
Console.WriteLine("weight GB/s: the bytes one batch-1 step reads (attention, dense/shared FFN, router, K = num_experts_per_tok routed experts' worth, head) per step; " +
                  "a batch-4 step reads more experts, so its figure is a lower bound");
Console.WriteLine($"wrote {recorder.Save("weights", new { model = directory, threads, steps, rounds = repeats, rows })}");

// Decode tokens/s of `batch` sequences over `count` steps (default --steps) after a 16-token prompt each (fused prefill), greedy.
double Decode(FusedDecoder decoder, int batch, int? count = null)
{
    int stepCount = count ?? steps;
    using var cache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU);
    var ids = Enumerable.Range(0, batch).Select(_ => cache.AddSequence()).ToArray();
    var next = new long[batch];
    for (int b = 0; b < batch; b++)
    {
        cache.SetBatch(ids[b]);
        using var output = decoder.Prefill(Enumerable.Range(0, 16).Select(i => (long)((i * 37 + b * 11) % config.VocabSize)).ToArray(), cache, lastOnly: true);
        next[b] = output.Logits[0, -1].argmax().item<long>();
    }
    cache.SetBatch(ids);
    var watch = Stopwatch.StartNew();
    for (int step = 0; step < stepCount; step++)
    {
        using var scope = NewDisposeScope();
        var output = decoder.Forward(tensor(next).view(batch, 1), cache);
        next = output.Logits.select(1, 0).argmax(-1).data<long>().ToArray();
    }
    return stepCount * batch / watch.Elapsed.TotalSeconds;
}

// Weight bytes one token's step reads: every block's attention and dense/shared FFN and router, K routed experts
// (expert 0's size), the head.
static long BatchOneStepBytes(ModelConfig config, IDecoderWeights weights)
{
    long bytes = weights.Matrix("lm_head.weight").Bytes;
    for (int layer = 0; layer < config.NumHiddenLayers; layer++)
    {
        string p = $"model.layers.{layer}";
        var names = new List<string> { $"{p}.self_attn.kv_a_proj_with_mqa.weight", $"{p}.self_attn.kv_b_proj.weight", $"{p}.self_attn.o_proj.weight" };
        names.AddRange(config.QLoraRank is null ? [$"{p}.self_attn.q_proj.weight"] : [$"{p}.self_attn.q_a_proj.weight", $"{p}.self_attn.q_b_proj.weight"]);
        string[] mlp = ["gate_proj", "up_proj", "down_proj"];
        if (!DecoderLayer.UsesMoe(config, layer)) names.AddRange(mlp.Select(m => $"{p}.mlp.{m}.weight"));
        else
        {
            names.Add($"{p}.mlp.gate.weight");
            if (config.NSharedExperts > 0) names.AddRange(mlp.Select(m => $"{p}.mlp.shared_experts.{m}.weight"));
            bytes += config.NumExpertsPerTok * mlp.Sum(m => weights.Matrix($"{p}.mlp.experts.0.{m}.weight").Bytes);
        }
        bytes += names.Sum(n => weights.Matrix(n).Bytes);
    }
    return bytes;
}
