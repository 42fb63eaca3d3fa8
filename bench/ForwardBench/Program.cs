// Forward throughput of the `small` preset: f32 vs bf16, absorbed vs naive MLA, side by side in one process.
// Usage: dotnet run -c Release --project bench/ForwardBench [-- --repeats N --threads T]
using DeepSeekV3.Bench;
using System.Diagnostics;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

var recorder = new BenchResults();
int repeats = ArgValue("--repeats", 5);
int threads = ArgValue("--threads", Environment.ProcessorCount);
set_num_threads(threads);
var config = ModelPresets.Small;
var shapes = new (int Batch, int Seq)[] { (1, 512), (4, 128) };
var rows = new List<Dictionary<string, object>>();

Console.WriteLine($"small preset: {ModelSummary.Count(new ModelSize(config).TotalParameters)} params, threads {threads}, median of {repeats}");
Console.WriteLine($"{"dtype",-6} {"attention",-9} {"batch x seq",-12} {"ms/forward",10} {"tokens/s",10}");
foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
{
    using var model = new DeepSeekV3ForCausalLM(config);
    WeightInitializer.Initialize(model, seed: 0);
    model.To(CPU, dtype);
    model.eval();
    foreach (var mode in new[] { AttentionMode.Absorbed, AttentionMode.Naive })
    foreach (var (batch, seq) in shapes)
    {
        using var tokens = randint(0, config.VocabSize, [batch, seq], dtype: ScalarType.Int64, generator: new Generator(1));
        double Time()
        {
            using var _ = no_grad();
            var watch = Stopwatch.StartNew();
            using var output = model.Forward(tokens, new ForwardContext { Mode = mode });
            return watch.Elapsed.TotalMilliseconds;
        }
        Time();  // warm-up
        var times = Enumerable.Range(0, repeats).Select(_ => Time()).Order().ToArray();
        double median = times[times.Length / 2];
        double tokensPerSecond = batch * seq / (median / 1000);
        string dtypeName = dtype == ScalarType.Float32 ? "f32" : "bf16";
        Console.WriteLine($"{dtypeName,-6} {mode,-9} {$"{batch} x {seq}",-12} {median,10:F1} {tokensPerSecond,10:F0}");
        rows.Add(new()
        {
            ["dtype"] = dtypeName, ["attention"] = mode.ToString().ToLowerInvariant(), ["batch"] = batch, ["seq"] = seq,
            ["median_ms"] = Math.Round(median, 2), ["tokens_per_s"] = Math.Round(tokensPerSecond, 1),
        });
    }
}

string path = recorder.Save("forward", new { preset = "small", threads, repeats, rows });
Console.WriteLine($"wrote {path}");

int ArgValue(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int v) ? v : fallback;
}
