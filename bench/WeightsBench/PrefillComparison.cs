using System.Diagnostics;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Bench;

/// <summary>
/// Prefill tokens/s of one prompt on the ~276M DeepSeek-V3-shaped model of InferenceBench (<see cref="BenchModel"/>),
/// saved FP8 (block linears E4M3 with 128×128 scales, the rest bf16) and BF16: the fused decoder over the mapped
/// checkpoint as stored, on the GEMM (<see cref="FusedDecoder.PrefillPrecision"/> bf16 and f32) and on the old path
/// (16 positions per pass on the decode kernels), against the LibTorch model loaded from the same checkpoint
/// (dequantized, f32 and bf16). One engine at a time, engines taking turns per round.
/// </summary>
internal static class PrefillComparison
{
    public static object Run(string workDir, int promptLength, int repeats, long seed)
    {
        var config = BenchModel.Config;
        var directories = new Dictionary<string, string>
        {
            ["fp8"] = Path.Combine(workDir, "prefill-model-fp8"), ["bf16"] = Path.Combine(workDir, "prefill-model-bf16"),
        };
        if (directories.Values.Any(d => !File.Exists(Path.Combine(d, ModelCheckpoint.ConfigFile))))
        {
            Console.WriteLine($"creating a random {new ModelSize(config).TotalParameters / 1e6:F0}M-parameter model (seed {seed}) as FP8 and BF16 in {workDir}");
            using var model = new DeepSeekV3ForCausalLM(config);
            WeightInitializer.Initialize(model, seed, config.InitializerRange);
            ModelCheckpoint.Save(model, directories["fp8"], new ModelCheckpoint.SaveOptions { Fp8 = true });
            ModelCheckpoint.Save(model, directories["bf16"], new ModelCheckpoint.SaveOptions { Dtype = ScalarType.BFloat16 });
        }
        var random = new Random((int)seed);
        var prompt = Enumerable.Range(0, promptLength).Select(_ => (long)random.Next(config.VocabSize)).ToArray();
        string[] engines = ["gemm-bf16", "gemm-f32", "rows16", "torch-f32", "torch-bf16"];
        var samples = new Dictionary<(string Stored, string Engine), List<double>>();
        for (int round = 0; round <= repeats; round++)                   // round 0 warms up and is not recorded
            foreach (var (stored, directory) in directories)
                foreach (var engine in engines)
                {
                    double seconds = Time(engine, directory, config, prompt);
                    if (round > 0) (samples.TryGetValue((stored, engine), out var list) ? list : samples[(stored, engine)] = []).Add(promptLength / seconds);
                }
        Console.WriteLine($"{"stored",-7} {"engine",-11} {"prefill tokens/s median [min, max]",36}");
        var rows = new List<Dictionary<string, object>>();
        foreach (var ((stored, engine), list) in samples)
        {
            var s = list.Order().ToArray();
            Console.WriteLine($"{stored,-7} {engine,-11} {$"{s[s.Length / 2]:F0} [{s[0]:F0}, {s[^1]:F0}]",36}");
            rows.Add(new() { ["stored"] = stored, ["engine"] = engine, ["tokens_per_s"] = s });
        }
        Console.WriteLine("gemm-*: fused decoder over the mapped checkpoint, linears on TileGemm; rows16: the same, 16 positions per pass " +
                          "on the decode kernels; torch-*: LibTorch model loaded from the checkpoint (dequantized), one forward");
        return new { prompt_tokens = promptLength, threads = get_num_threads(), parameters = new ModelSize(config).TotalParameters, rounds = repeats, rows };
    }

    /// <summary>Seconds of the second of two prefills of <paramref name="prompt"/>, each into a fresh cache: the
    /// engine's load is not counted, nor the first touch of a mapped checkpoint's pages (minor faults), nor LibTorch's
    /// first allocations.</summary>
    private static double Time(string engine, string directory, ModelConfig config, long[] prompt)
    {
        using var _ = no_grad();
        int layers = config.NumHiddenLayers + config.NumNextnPredictLayers;
        if (engine.StartsWith("torch", StringComparison.Ordinal))
        {
            var dtype = engine == "torch-f32" ? ScalarType.Float32 : ScalarType.BFloat16;
            using var model = ModelCheckpoint.Load(directory, dtype: dtype);
            using var ids = tensor(prompt).unsqueeze(0);
            double torchSeconds = 0;
            for (int pass = 0; pass < 2; pass++)
            {
                using var cache = new PagedLatentCache(config, layers, dtype, CPU);
                cache.SetBatch(cache.AddSequence());
                var watch = Stopwatch.StartNew();
                using var output = model.Forward(ids, new ForwardContext { Cache = cache }, lastOnly: true);
                torchSeconds = watch.Elapsed.TotalSeconds;
            }
            return torchSeconds;
        }
        GemmPrecision? precision = engine switch { "gemm-bf16" => GemmPrecision.Bf16, "gemm-f32" => GemmPrecision.F32, _ => null };
        using var weights = new MappedCheckpointWeights(directory);
        using var decoder = new FusedDecoder(config, weights, get_num_threads()) { PrefillPrecision = precision };
        double seconds = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            using var fusedCache = new PagedLatentCache(config, layers, ScalarType.Float32, CPU);
            fusedCache.SetBatch(fusedCache.AddSequence());
            var stopwatch = Stopwatch.StartNew();
            using var result = decoder.Prefill(prompt, fusedCache, lastOnly: true);
            seconds = stopwatch.Elapsed.TotalSeconds;
        }
        return seconds;
    }
}
