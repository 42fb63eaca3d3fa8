using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// How a tile's scale follows from its current max-abs (report §3.3.2 "Online Quantization": no history, no delayed
/// scaling): scale = max(amax, <see cref="AmaxFloor"/>) / max_fp8, the dequantization multiplier (x ≈ code·scale).
/// With <see cref="PowerOfTwo"/> the scale is rounded up to a power of two (UE8M0, an exponent only), which the
/// report uses where a tile must be re-quantized or re-tiled without adding error (§3.3.3), and DeepSeek-V3.1's
/// <c>act_quant(scale_fmt="ue8m0")</c> everywhere: x/scale is then exact and the largest code lands in (224, 448].
/// </summary>
public sealed record Fp8Scaling
{
    /// <summary>amax is clamped to at least this (DeepGEMM's tests and V3's act_quant: 1e-4), so an all-zero tile
    /// gets a small finite scale instead of 0.</summary>
    public float AmaxFloor { get; init; } = 1e-4f;

    /// <summary>Round each scale up to 2^⌈log2(amax/max)⌉.</summary>
    public bool PowerOfTwo { get; init; }

    public Float8Format Format { get; init; } = Float8Format.E4M3;

    /// <summary>FP32 scales, E4M3: the default of the report's recipe.</summary>
    public static Fp8Scaling Float32Scales { get; } = new();

    /// <summary>UE8M0 (power-of-2) scales, E4M3.</summary>
    public static Fp8Scaling PowerOfTwoScales { get; } = new() { PowerOfTwo = true };

    /// <summary>Scales of tiles with the given max-abs values (any shape); a new float32 tensor owned by the caller.</summary>
    public Tensor Scales(Tensor amax)
    {
        using var scope = NewDisposeScope();
        using var floor = AmaxFloor.ToScalar();
        var scale = amax.to_type(ScalarType.Float32).clamp_min(floor) / Format.MaxValue;
        if (PowerOfTwo)
        {
            // frexp: scale = m·2^e, m in [0.5, 1). m = 0.5 is already a power of two, 2^(e−1); anything above
            // rounds up to 2^e. Exact, unlike exp2(ceil(log2(s))), whose log2 may round a hair above 2^k down to k.
            var (mantissa, exponent) = scale.frexp();
            var exact = mantissa.eq(Scalars.Half).to_type(exponent.dtype);
            scale = ones_like(scale).ldexp(exponent - exact);
        }
        return scale.MoveToOuterDisposeScope();
    }
}
