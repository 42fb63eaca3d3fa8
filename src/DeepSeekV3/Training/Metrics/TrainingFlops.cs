using System.Diagnostics;
using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Metrics;

/// <summary>
/// Model FLOPs for MFU: 6 FLOPs per activated matrix weight per token (2 forward, 4 backward) for every block, the
/// LM head and each MTP module (eh_proj, its block, and the shared head again), plus attention's score and value
/// products, 6·h·(d_qk + d_v)·(T+1)/2 per layer per token (causal: half the keys on average). Recomputation is not
/// counted (model FLOPs, not hardware FLOPs). Embedding lookups and norms are ignored.
/// </summary>
public static class TrainingFlops
{
    public static double PerToken(ModelConfig config, int sequenceLength, int mtpDepth)
    {
        var size = new ModelSize(config);
        long d = config.HiddenSize;
        double head = (double)config.VocabSize * d;
        double layers = Enumerable.Range(0, config.NumHiddenLayers).Sum(l => (double)size.ActivatedLayerParameters(l));
        double attention = AttentionPerLayer(config, sequenceLength) / 6;
        double mtpModule = size.ActivatedLayerParameters(config.NumHiddenLayers) + 2.0 * d * d + head;
        return 6 * (layers + head + config.NumHiddenLayers * attention + mtpDepth * (mtpModule + attention));
    }

    /// <summary>
    /// Training FLOPs per token of one layer's attention products (QKᵀ and the weighted sum of V, forward and
    /// backward): 6·h·(d_qk + d_v) per key, and a causal token sees (T+1)/2 keys on average.
    /// </summary>
    public static double AttentionPerLayer(ModelConfig config, int sequenceLength) =>
        6.0 * config.NumAttentionHeads * (config.QkHeadDim + config.VHeadDim) * (sequenceLength + 1) / 2;

    /// <summary>
    /// Measured peak matmul throughput of this machine now (FLOP/s) in <paramref name="dtype"/> (float32 unless
    /// given; bfloat16 for bfloat16 training): the best of several timed square GEMMs of size <paramref name="n"/>,
    /// run with the process's torch threads. On a shared machine this is a lower bound
    /// of the true peak, so MFU computed against it can read high; re-measuring and keeping the maximum helps.
    /// </summary>
    public static double MeasurePeakMatmul(int n = 1024, int repeats = 8, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n).to_type(dtype);
        var b = randn(n, n).to_type(dtype);
        var c = a.matmul(b);                                                               // warm-up
        double best = 0;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            c = a.matmul(b);
            c.sum().to_type(ScalarType.Float32).item<float>();
            best = Math.Max(best, 2.0 * n * n * n / clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
