using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// A projection's three GEMMs in FP8 (report §3.3.1, Fig. 6; §3.3.2, Fig. 7):
/// <list type="bullet">
/// <item>Fprop: x in 1×128 tiles (per token, per 128 input channels) times W in 128×128 blocks, quantized from the
/// float32 master weight; the FP32 result is rounded to bfloat16.</item>
/// <item>Dgrad: dL/dy in 1×128 tiles (per token: activation gradients carry token-correlated outliers; 128×128 blocks
/// diverged in the report's App. B.2) times the same W blocks transposed; the result rounded to bfloat16.</item>
/// <item>Wgrad: dL/dyᵀ and xᵀ, each in tiles of 128 tokens per channel (128×1 of the originals); x comes from its FP8
/// cache, dequantized, transposed and quantized again, as the report does; the result stays float32.</item>
/// </list>
/// Autograd keeps W as its FP8 blocks and x as its FP8 codes and 1×128 scales, or (o_proj, §3.3.3) in E5M6.
/// </summary>
internal sealed class Fp8LinearGemms : ILinearGemms
{
    private const int Group = TileQuantization.GroupSize;
    private readonly Fp8Recipe _recipe;
    private readonly Fp8Scaling _input, _gradient;
    private readonly ActivationCacheFormat _cache;

    /// <param name="recipe">GEMM and default scaling.</param>
    /// <param name="powerOfTwoInput">UE8M0 scales for x (the report's o_proj and MoE up-projection inputs).</param>
    /// <param name="powerOfTwoGradient">UE8M0 scales for dL/dy (the report's MoE down-projection).</param>
    /// <param name="inputCache">How x is kept for Wgrad (E5M6 for o_proj's input in the report).</param>
    public Fp8LinearGemms(Fp8Recipe recipe, bool powerOfTwoInput = false, bool powerOfTwoGradient = false,
        ActivationCacheFormat inputCache = ActivationCacheFormat.E4M3)
    {
        _recipe = recipe;
        _input = powerOfTwoInput ? recipe.Scaling with { PowerOfTwo = true } : recipe.Scaling;
        _gradient = powerOfTwoGradient ? recipe.Scaling with { PowerOfTwo = true } : recipe.Scaling;
        _cache = inputCache;
    }

    /// <summary>How Fprop quantizes x; an FP8 dispatch that quantizes x ahead of this projection must use it.</summary>
    public Fp8Scaling InputScaling => _input;

    public Tensor Forward(Tensor x, Tensor weight, out Tensor[] saved)
    {
        using var xq = TileQuantization.Quantize(x, 1, Group, _input);                    // [T, in], scales [T, in/128]
        return Forward(x, xq, weight, out saved);
    }

    /// <summary>Fprop on x already quantized by <see cref="InputScaling"/> (the MoE's FP8 dispatch); the codes are
    /// shared, not copied, by every projection that reads them.</summary>
    public Tensor Forward(Tensor x, QuantizedMatrix quantizedInput, Tensor weight, out Tensor[] saved)
    {
        if (quantizedInput.TileRows != 1 || quantizedInput.TileColumns != Group || quantizedInput.Format != _input.Format ||
            quantizedInput.Rows != x.shape[0] || quantizedInput.Columns != x.shape[1])
            throw new QuantizationException(
                $"FP8 projection: expected the input quantized in 1×{Group} {_input.Format} tiles as [{x.shape[0]}, {x.shape[1]}], found " +
                $"{quantizedInput.TileRows}×{quantizedInput.TileColumns} {quantizedInput.Format} [{quantizedInput.Rows}, {quantizedInput.Columns}]");
        var wq = TileQuantization.Quantize(weight, Group, Group, _recipe.Scaling);         // [out, in], blocks
        saved = _cache == ActivationCacheFormat.E5M6
            ? [wq.Codes, wq.Scales, E5M6Format.Store(x)]                                   // [T, in] E5M6 in float16
            : [wq.Codes, wq.Scales, quantizedInput.Codes.alias(), quantizedInput.Scales.alias()];
        using var y = _recipe.Gemm.Multiply(quantizedInput, wq);                           // [T, out] FP32
        return RoundToBFloat16(y);
    }

    public Tensor InputGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved)
    {
        using var scope = NewDisposeScope();
        using var gq = TileQuantization.Quantize(gradOutput, 1, Group, _gradient);         // [T, out] per token
        using var wq = Weight(saved);
        using var wt = wq.Transpose();                                                     // [in, out], blocks
        var dx = _recipe.Gemm.Multiply(gq, wt);                                            // [T, in] FP32
        return RoundToBFloat16(dx).MoveToOuterDisposeScope();
    }

    public Tensor WeightGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved)
    {
        using var scope = NewDisposeScope();
        using var gq = TileQuantization.Quantize(gradOutput.t(), 1, Group, _gradient);     // [out, T]: 128 tokens per tile
        var x = _cache == ActivationCacheFormat.E5M6                                        // [T, in] from the cache
            ? saved[2].to_type(ScalarType.Float32)
            : TileQuantization.Decode(saved[2], saved[3], 1, Group);
        using var xq = TileQuantization.Quantize(x.t(), 1, Group, _input);                 // [in, T]: 128 tokens per tile
        return _recipe.Gemm.Multiply(gq, xq).MoveToOuterDisposeScope();                    // [out, in] FP32
    }

    /// <summary>The saved weight blocks as a quantized matrix over copies of the handles (the caller disposes it).</summary>
    private static QuantizedMatrix Weight(IReadOnlyList<Tensor> saved) =>
        new(saved[0].alias(), saved[1].alias(), Group, Group, Float8Format.E4M3);

    private static Tensor RoundToBFloat16(Tensor t) => t.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32);
}
