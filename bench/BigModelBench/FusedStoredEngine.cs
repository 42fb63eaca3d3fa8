using System.Diagnostics;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Kernels;
using static TorchSharp.torch;

namespace DeepSeekV3.Bench;

/// <summary>
/// Our engine as <c>dsv3 generate --weights MODE</c> runs it: the fused decoder over the checkpoint's weights without
/// a LibTorch model (<see cref="WeightsMode.Stored"/>: memory-mapped and used in place, FP8 with its block scales),
/// an fp32 paged latent cache on the CPU, prompts on the GEMM prefill in <c>prefill</c> precision (bf16 as
/// <see cref="FusedWeightsBackend"/> uses; null: 16 rows per pass on the decode kernels). Greedy, as
/// <see cref="LlamaCppBigEngine"/> is.
/// </summary>
internal sealed class FusedStoredEngine(string modelDirectory, ModelConfig config, WeightsMode mode, int threads, GemmPrecision? prefill) : IBigModelEngine
{
    private IDecoderWeights? _weights;
    private FusedDecoder? _decoder;
    private readonly DecodeProfile _profile = new();

    public string Name => $"DeepSeekV3.NET fused, --weights {mode.ToString().ToLowerInvariant()}, prefill {prefill?.ToString().ToLowerInvariant() ?? "16 rows"}";

    public void Load()
    {
        _weights = CheckpointWeights.Open(modelDirectory, mode);
        _decoder = new FusedDecoder(config, _weights, threads) { PrefillPrecision = prefill };
    }

    public double Prefill(long[] prompt)
    {
        using var scope = NewDisposeScope();
        using var cache = NewCache();
        cache.SetBatch(cache.AddSequence());
        var watch = Stopwatch.StartNew();
        var output = _decoder!.Prefill(prompt, cache, lastOnly: true);
        _ = output.Logits.argmax(-1).item<long>();
        return watch.Elapsed.TotalSeconds;
    }

    public double[] Decode(long[][] contexts, int batchSize, int steps)
    {
        using var cache = NewCache();
        var ids = new int[batchSize];
        var next = new long[batchSize];
        for (int s = 0; s < batchSize; s++)
        {
            using var scope = NewDisposeScope();
            ids[s] = cache.AddSequence();
            cache.SetBatch(ids[s]);
            next[s] = _decoder!.Prefill(contexts[s], cache, lastOnly: true).Logits.argmax(-1).item<long>();
        }
        cache.SetBatch(ids);
        _profile.Reset();
        _decoder!.Profile = _profile;       // a few clock reads per layer: the steps' times include them
        var seconds = new double[steps];
        for (int step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var watch = Stopwatch.StartNew();
            var logits = _decoder!.Forward(tensor(next).unsqueeze(1), cache).Logits;   // [batch, 1, vocab]
            next = logits.argmax(-1).flatten().data<long>().ToArray();
            seconds[step] = watch.Elapsed.TotalSeconds;
        }
        _decoder.Profile = null;
        return seconds;
    }

    public IReadOnlyDictionary<string, double>? StageMilliseconds() => _profile.Passes == 0 ? null
        : Enum.GetValues<DecodeStage>().ToDictionary(stage => stage.ToString(), stage => _profile.Milliseconds(stage) / _profile.Passes);

    public void Dispose()
    {
        _decoder?.Dispose();
        (_weights as IDisposable)?.Dispose();
    }

    private PagedLatentCache NewCache()
    {
        var (dtype, device) = FusedWeightsBackend.Cache;
        return new PagedLatentCache(config, config.NumHiddenLayers + config.NumNextnPredictLayers, dtype, device);
    }
}
