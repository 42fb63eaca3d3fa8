using DeepSeekV3.Configuration;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// Generation on the <see cref="FusedDecoder"/> alone, over weights that never became a LibTorch model (a
/// memory-mapped FP8/BF16 checkpoint, or one converted at load: <see cref="CheckpointWeights"/>). Decode steps are
/// fused passes; prompts longer than <see cref="FusedDecoder.MaxRows"/> are prefilled on the GEMM
/// (<see cref="FusedDecoder.PrefillPrecision"/>, bf16 unless <paramref name="prefillPrecision"/> says otherwise; null:
/// 16 positions per pass on the decode kernels). The cache is fp32 on the CPU. Does not own the weights.
/// </summary>
public sealed class FusedWeightsBackend(ModelConfig config, IDecoderWeights weights, int threads = 0,
    GemmPrecision? prefillPrecision = GemmPrecision.Bf16) : ForwardBackend(config, null)
{
    private readonly FusedDecoder _decoder = new(config, weights, threads) { PrefillPrecision = prefillPrecision };

    public override int MaxRows => FusedDecoder.MaxRows;

    /// <summary>The cache every such backend uses: fp32 on the CPU, what the fused decoder reads fastest.</summary>
    public static (ScalarType Dtype, Device Device) Cache => (ScalarType.Float32, CPU);

    public override (ScalarType Dtype, Device Device) CacheType => Cache;

    public override ModelOutput Step(Tensor tokens, PagedLatentCache cache) => _decoder.Forward(tokens, cache);

    public override ModelOutput Prefill(long[] tokens, PagedLatentCache cache, bool everyHidden) =>
        _decoder.Prefill(tokens, cache, lastOnly: !everyHidden);

    public override ModelOutput DraftMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache) =>
        _decoder.DraftMtp(depth, previous, nextTokens, cache);

    public override void Dispose()
    {
        _decoder.Dispose();
        base.Dispose();
    }
}
