using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// Fine-grained FP8 quantization of a matrix [rows, columns] in tiles of r × c elements, each with its own scale
/// (report §3.3.2, Fig. 7a): activations 1×128 (per token, per 128 channels along the GEMM's inner dimension),
/// weights 128×128. Edge tiles hold fewer elements; their amax covers only those, which equals DeepSeek's
/// zero-padding to a whole tile. Everything here is LibTorch ops, so it runs on the tensors' device.
/// </summary>
public static class TileQuantization
{
    /// <summary>The report's group along the inner dimension, and DeepGEMM's only supported one.</summary>
    public const int GroupSize = 128;

    /// <summary>Online quantization: scales from each tile's current amax (<paramref name="scaling"/>), codes by
    /// round-to-nearest-even of x / scale. Returns a new <see cref="QuantizedMatrix"/> owned by the caller.</summary>
    public static QuantizedMatrix Quantize(Tensor matrix, int tileRows, int tileColumns, Fp8Scaling scaling)
    {
        using var scope = NewDisposeScope();
        var scales = scaling.Scales(Amax(matrix, tileRows, tileColumns));
        var codes = Encode(matrix, scales, tileRows, tileColumns, scaling.Format);
        return new QuantizedMatrix(codes.MoveToOuterDisposeScope(), scales.MoveToOuterDisposeScope(), tileRows, tileColumns, scaling.Format);
    }

    /// <summary>max |x| per tile: [⌈rows/r⌉, ⌈columns/c⌉] float32, a new tensor.</summary>
    public static Tensor Amax(Tensor matrix, int tileRows, int tileColumns)
    {
        RequireMatrix(matrix, tileRows, tileColumns);
        using var scope = NewDisposeScope();
        var tiles = Tiles(matrix.to_type(ScalarType.Float32).abs(), tileRows, tileColumns);   // [R, r, C, c]
        return tiles.amax(new long[] { 1, 3 }).MoveToOuterDisposeScope();                  // [R, C]
    }

    /// <summary>Codes of x / scale (scale grid [⌈rows/r⌉, ⌈columns/c⌉]), clamped to ±max first because LibTorch's cast
    /// turns anything past the largest code into NaN; amax/448 can exceed 448 after float rounding (448.00003).</summary>
    public static Tensor Encode(Tensor matrix, Tensor scales, int tileRows, int tileColumns, Float8Format format)
    {
        RequireMatrix(matrix, tileRows, tileColumns);
        using var scope = NewDisposeScope();
        long rows = matrix.shape[0], columns = matrix.shape[1];
        var tiles = Tiles(matrix.to_type(ScalarType.Float32), tileRows, tileColumns);          // [R, r, C, c]
        using Scalar lowest = (-format.MaxValue).ToScalar(), largest = format.MaxValue.ToScalar();
        var scaled = (tiles / scales.unsqueeze(1).unsqueeze(-1)).clamp(lowest, largest);
        var codes = Untile(scaled, rows, columns).to_type(format.TorchType);                   // [rows, columns]
        return codes.MoveToOuterDisposeScope();
    }

    /// <summary>float32(code) · scale of its tile: [rows, columns] float32, a new tensor.</summary>
    public static Tensor Decode(Tensor codes, Tensor scales, int tileRows, int tileColumns)
    {
        RequireMatrix(codes, tileRows, tileColumns);
        using var scope = NewDisposeScope();
        long rows = codes.shape[0], columns = codes.shape[1];
        var tiles = Tiles(codes.to_type(ScalarType.Float32), tileRows, tileColumns);           // [R, r, C, c]
        var values = tiles * scales.to_type(ScalarType.Float32).unsqueeze(1).unsqueeze(-1);
        return Untile(values, rows, columns).MoveToOuterDisposeScope();
    }

    /// <summary>[rows, columns] → [R, r, C, c], zero-padded to whole tiles (|0| never wins an amax).</summary>
    private static Tensor Tiles(Tensor matrix, int tileRows, int tileColumns)
    {
        long rows = matrix.shape[0], columns = matrix.shape[1];
        long gridRows = QuantizedMatrix.CeilDiv(rows, tileRows), gridColumns = QuantizedMatrix.CeilDiv(columns, tileColumns);
        long padRows = gridRows * tileRows - rows, padColumns = gridColumns * tileColumns - columns;
        var padded = padRows == 0 && padColumns == 0 ? matrix : nn.functional.pad(matrix, new[] { 0, padColumns, 0, padRows });
        return padded.reshape(gridRows, tileRows, gridColumns, tileColumns);
    }

    private static Tensor Untile(Tensor tiles, long rows, long columns) =>
        tiles.reshape(tiles.shape[0] * tiles.shape[1], tiles.shape[2] * tiles.shape[3]).narrow(0, 0, rows).narrow(1, 0, columns).contiguous();

    private static void RequireMatrix(Tensor t, int tileRows, int tileColumns)
    {
        if (t.dim() != 2)
            throw new QuantizationException($"tile quantization: expected a 2-D matrix, found shape [{string.Join(", ", t.shape)}]");
        if (tileRows <= 0 || tileColumns <= 0)
            throw new QuantizationException($"tile quantization: expected a positive tile shape, found {tileRows}×{tileColumns}");
    }
}
