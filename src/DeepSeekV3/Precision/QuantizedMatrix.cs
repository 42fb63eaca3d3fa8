using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// A matrix [rows, columns] as FP8 codes and one float32 scale per tile of <see cref="TileRows"/> ×
/// <see cref="TileColumns"/>: value[i, j] ≈ decode(Codes[i, j]) · Scales[i / TileRows, j / TileColumns]. Activations
/// are 1×128 tiles (per token per 128 channels), weights 128×128 blocks (report §3.3.2, Fig. 7a). Owns both tensors.
/// </summary>
public sealed class QuantizedMatrix : IDisposable
{
    public QuantizedMatrix(Tensor codes, Tensor scales, int tileRows, int tileColumns, Float8Format format)
    {
        long[] grid = [CeilDiv(codes.shape[0], tileRows), CeilDiv(codes.shape[1], tileColumns)];
        if (codes.dim() != 2 || codes.dtype != format.TorchType || !scales.shape.SequenceEqual(grid))
            throw new QuantizationException(
                $"quantized matrix: expected {format} codes [rows, columns] and scales [{string.Join(", ", grid)}] for tiles " +
                $"{tileRows}×{tileColumns}, found {codes.dtype} [{string.Join(", ", codes.shape)}] and scales [{string.Join(", ", scales.shape)}]");
        Codes = codes;
        Scales = scales;
        TileRows = tileRows;
        TileColumns = tileColumns;
        Format = format;
    }

    /// <summary>[rows, columns] in <see cref="Format"/>'s dtype.</summary>
    public Tensor Codes { get; }

    /// <summary>[⌈rows / TileRows⌉, ⌈columns / TileColumns⌉] float32 dequantization multipliers.</summary>
    public Tensor Scales { get; }

    public int TileRows { get; }
    public int TileColumns { get; }
    public Float8Format Format { get; }
    public long Rows => Codes.shape[0];
    public long Columns => Codes.shape[1];

    /// <summary>The float32 matrix the codes and scales stand for; owned by the caller.</summary>
    public Tensor Dequantize() => TileQuantization.Decode(Codes, Scales, TileRows, TileColumns);

    /// <summary>
    /// The transpose as a new quantized matrix (same codes, moved; scale grid transposed). Exact only for square
    /// tiles: a 128×128 weight block serves Fprop (W) and Dgrad (Wᵀ) alike, whereas a 1×128 activation tile becomes
    /// 128×1, which is why activations are dequantized and quantized again along the other axis (report §3.3.2).
    /// </summary>
    public QuantizedMatrix Transpose()
    {
        if (TileRows != TileColumns)
            throw new QuantizationException(
                $"quantized matrix: only square tiles transpose exactly, found {TileRows}×{TileColumns}; dequantize and quantize again");
        return new QuantizedMatrix(Codes.t().contiguous(), Scales.t().contiguous(), TileColumns, TileRows, Format);
    }

    /// <summary>Rows [start, start + count) as a view (activations only: 1-row tiles, so each row keeps its scales);
    /// the caller disposes the view, which frees nothing of this matrix.</summary>
    public QuantizedMatrix RowRange(long start, long count)
    {
        if (TileRows != 1)
            throw new QuantizationException($"quantized matrix: rows of {TileRows}×{TileColumns} tiles share scales; only 1-row tiles slice by row");
        if (start < 0 || count < 0 || start + count > Rows)
            throw new QuantizationException($"quantized matrix: rows [{start}, {start + count}) are outside [0, {Rows})");
        return new QuantizedMatrix(Codes.narrow(0, start, count), Scales.narrow(0, start, count), 1, TileColumns, Format);
    }

    public void Dispose()
    {
        Codes.Dispose();
        Scales.Dispose();
    }

    internal static long CeilDiv(long n, long d) => (n + d - 1) / d;
}
