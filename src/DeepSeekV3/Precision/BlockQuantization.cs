using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// DeepSeek-V3's fine-grained weight quantization: every 128×128 block of a Linear weight [out, in] shares one
/// float32 multiplier, stored beside it as <c>&lt;name&gt;.weight_scale_inv</c> [ceil(out/128), ceil(in/128)].
/// Despite the name, scale_inv is the dequantization multiplier: W ≈ float32(q) · scale_inv (<c>weight_dequant</c>
/// in DeepSeek's inference/kernel.py; docs/reference-notes.md#checkpoint-format).
/// </summary>
public static class BlockQuantization
{
    /// <summary>The block edge DeepSeek-V3 uses (config quantization_config.weight_block_size = [128, 128]).</summary>
    public const int DefaultBlockSize = 128;

    /// <summary>
    /// Quantizes a weight [out, in] of any floating dtype to float8_e4m3fn with one scale per block.
    /// scale_inv = amax(|block|) / 448 so the largest element of each block maps to ±448. The amax of an edge
    /// block covers only its real elements, which equals DeepSeek's zero-padding to a full block (|0| never wins).
    /// An all-zero block gets scale_inv = 1: its codes are all zero whatever the scale, and 1 keeps the grid finite
    /// and positive so dequantization never divides by or multiplies with 0/NaN.
    /// Returns new tensors on the input's device, owned by the caller: Weight [out, in] float8_e4m3fn,
    /// ScaleInv [ceil(out/B), ceil(in/B)] float32.
    /// </summary>
    public static (Tensor Weight, Tensor ScaleInv) QuantizeWeight(Tensor weight, int blockSize = DefaultBlockSize)
    {
        RequireBlockSize(blockSize);
        RequireMatrix(weight, "weight", null);
        using var scope = NewDisposeScope();
        var amax = TileQuantization.Amax(weight, blockSize, blockSize);                   // [R, C]
        var scaleInv = where(amax.gt(Scalars.Zero), amax / Float8E4M3.MaxValue, ones_like(amax));   // [R, C]
        var quantized = TileQuantization.Encode(weight, scaleInv, blockSize, blockSize, Float8Format.E4M3); // [out, in] fp8
        return (quantized.MoveToOuterDisposeScope(), scaleInv.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// W[i, j] = float32(q[i, j]) · S[i / B, j / B], computed in float32 and then cast once to <paramref name="dtype"/>
    /// (bfloat16 in the reference, which rounds to nearest even). The scale grid must be exactly
    /// [ceil(out/B), ceil(in/B)]; <paramref name="tensorName"/> only improves error messages.
    /// Returns a new tensor [out, in] on the input's device, owned by the caller.
    /// </summary>
    public static Tensor DequantizeWeight(
        Tensor fp8Weight, Tensor scaleInv, ScalarType dtype, int blockSize = DefaultBlockSize, string? tensorName = null)
    {
        RequireBlockSize(blockSize);
        RequireMatrix(fp8Weight, "weight", tensorName);
        if (fp8Weight.dtype != Float8E4M3.TorchType)
            throw new QuantizationException(
                $"{Describe(tensorName, "weight")}: expected dtype float8_e4m3fn ({(int)Float8E4M3.TorchType}), found {fp8Weight.dtype}");
        long rows = fp8Weight.shape[0], cols = fp8Weight.shape[1];
        long[] expectedGrid = { CeilDiv(rows, blockSize), CeilDiv(cols, blockSize) };
        if (!scaleInv.shape.SequenceEqual(expectedGrid))
            throw new QuantizationException(
                $"{Describe(tensorName, "weight_scale_inv")}: expected shape [{string.Join(", ", expectedGrid)}] for weight " +
                $"[{rows}, {cols}] with block {blockSize}, found [{string.Join(", ", scaleInv.shape)}]");

        using var scope = NewDisposeScope();
        var result = TileQuantization.Decode(fp8Weight, scaleInv, blockSize, blockSize).to_type(dtype); // [out, in]
        return result.MoveToOuterDisposeScope();
    }

    private static long CeilDiv(long n, int d) => (n + d - 1) / d;

    private static void RequireBlockSize(int blockSize)
    {
        if (blockSize <= 0)
            throw new QuantizationException($"block size: expected a positive number, found {blockSize}");
    }

    private static void RequireMatrix(Tensor t, string role, string? tensorName)
    {
        if (t.dim() != 2)
            throw new QuantizationException(
                $"{Describe(tensorName, role)}: expected a 2-D [out, in] tensor, found shape [{string.Join(", ", t.shape)}]");
    }

    private static string Describe(string? tensorName, string role) => tensorName is null ? role : $"{tensorName} ({role})";
}
