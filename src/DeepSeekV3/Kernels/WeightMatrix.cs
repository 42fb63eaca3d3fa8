using DeepSeekV3.Precision;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Kernels;

/// <summary>
/// A view of a 2-D weight's memory [rows, columns], row-major and contiguous, for the decode kernels: fp32, bf16 or
/// block-scaled FP8 E4M3 (<see cref="WeightFormat"/>). It does not own the memory, which may be a tensor's or any other
/// (a memory-mapped checkpoint): the owner must outlive the view and not move the bytes (Module.to() replaces
/// parameters, so build views after moving the model). Loads are unaligned, so any byte offset works.
/// </summary>
public readonly unsafe struct WeightMatrix
{
    /// <summary>The block edge of <see cref="WeightFormat.Fp8E4M3"/> scales (DeepSeek-V3's weight_block_size).</summary>
    public const int BlockSize = BlockQuantization.DefaultBlockSize;

    /// <summary>A view of raw memory. <paramref name="blockScales"/>: the fp32 scale grid, required for
    /// <see cref="WeightFormat.Fp8E4M3"/> and null otherwise; <paramref name="name"/> names the weight in errors.</summary>
    public WeightMatrix(byte* data, float* blockScales, int rows, int columns, WeightFormat format, string name)
    {
        if (data == null || rows < 1 || columns < 1)
            throw new InvalidArgumentException($"{name}: a weight view needs memory and a positive shape, found [{rows}, {columns}]");
        if ((format == WeightFormat.Fp8E4M3) != (blockScales != null))
            throw new InvalidArgumentException($"{name}: {format} weights {(format == WeightFormat.Fp8E4M3 ? "need" : "take no")} block scales");
        Data = data;
        Scales = blockScales;
        Rows = rows;
        Columns = columns;
        Format = format;
    }

    /// <summary>A view of a contiguous 2-D fp32 or bf16 CPU tensor.</summary>
    public WeightMatrix(Tensor weight, string name)
        : this(Pointer(weight, name, ScalarType.Float32, ScalarType.BFloat16), null, (int)weight.shape[0], (int)weight.shape[1],
               weight.dtype == ScalarType.BFloat16 ? WeightFormat.Bf16 : WeightFormat.F32, name)
    {
    }

    /// <summary>A view of a contiguous 2-D float8_e4m3fn CPU tensor and its fp32 scale grid (<c>weight_scale_inv</c>).</summary>
    public WeightMatrix(Tensor weight, Tensor scaleInv, string name)
        : this(Pointer(weight, name, Float8E4M3.TorchType, Float8E4M3.TorchType), ScalePointer(weight, scaleInv, name),
               (int)weight.shape[0], (int)weight.shape[1], WeightFormat.Fp8E4M3, name)
    {
    }

    public byte* Data { get; }

    /// <summary>The block scale grid of an FP8 weight, row-major [ceil(Rows/128), ceil(Columns/128)]; null otherwise.</summary>
    public float* Scales { get; }

    public int Rows { get; }
    public int Columns { get; }
    public WeightFormat Format { get; }

    /// <summary>Scale blocks per row of blocks.</summary>
    public int ColumnBlocks => (Columns + BlockSize - 1) / BlockSize;

    public int ElementBytes => Format switch { WeightFormat.F32 => 4, WeightFormat.Bf16 => 2, _ => 1 };

    /// <summary>Bytes a full pass reads: the elements (and the scale grid, for FP8).</summary>
    public long Bytes => (long)Rows * Columns * ElementBytes
                         + (Scales == null ? 0 : 4L * ((Rows + BlockSize - 1) / BlockSize) * ColumnBlocks);

    /// <summary>Row <paramref name="row"/>'s first element.</summary>
    public byte* Row(int row) => Data + (long)row * Columns * ElementBytes;

    /// <summary>The scales of the row of blocks that holds <paramref name="row"/>, one per 128 columns (FP8 only).</summary>
    public float* RowScales(int row) => Scales + (long)(row / BlockSize) * ColumnBlocks;

    /// <summary>y [m, rows] = x [m, columns] · Wᵀ.</summary>
    public void Multiply(float* x, int m, float* y, WorkerTeam? team) => Gemv.Multiply(x, m, this, y, team);

    /// <summary>x · W[row].</summary>
    public float DotRow(float* x, int row) => Format switch
    {
        WeightFormat.F32 => RowMath.Dot(x, (float*)Row(row), Columns),
        WeightFormat.Bf16 => RowMath.DotBf16(x, (ushort*)Row(row), Columns),
        _ => RowMath.DotFp8(x, Row(row), RowScales(row), Columns),
    };

    /// <summary>y += a · W[row].</summary>
    public void AxpyRow(float* y, float a, int row)
    {
        switch (Format)
        {
            case WeightFormat.F32: RowMath.Axpy(y, a, (float*)Row(row), Columns); break;
            case WeightFormat.Bf16: RowMath.AxpyBf16(y, a, (ushort*)Row(row), Columns); break;
            default: RowMath.AxpyFp8(y, a, Row(row), RowScales(row), Columns); break;
        }
    }

    /// <summary>W[row] as fp32 into <paramref name="destination"/> (an embedding lookup).</summary>
    public void CopyRow(int row, float* destination)
    {
        switch (Format)
        {
            case WeightFormat.F32: Buffer.MemoryCopy(Row(row), destination, Columns * 4L, Columns * 4L); break;
            case WeightFormat.Bf16: RowMath.Widen((ushort*)Row(row), destination, Columns); break;
            default: RowMath.WidenFp8(Row(row), RowScales(row), destination, Columns); break;
        }
    }

    private static byte* Pointer(Tensor weight, string name, ScalarType first, ScalarType second)
    {
        if (weight.dim() != 2 || !weight.is_contiguous() || weight.device_type != DeviceType.CPU
            || (weight.dtype != first && weight.dtype != second))
            throw new InvalidArgumentException($"{name}: the decode kernels need a contiguous 2-D {Describe(first)}" +
                                               $"{(first == second ? "" : " or " + Describe(second))} CPU tensor, " +
                                               $"found {Describe(weight.dtype)} [{string.Join(", ", weight.shape)}] on {weight.device}");
        fixed (byte* data = weight.bytes) return data;
    }

    private static float* ScalePointer(Tensor weight, Tensor scaleInv, string name)
    {
        long[] grid = [(weight.shape[0] + BlockSize - 1) / BlockSize, (weight.shape[^1] + BlockSize - 1) / BlockSize];
        if (scaleInv.dtype != ScalarType.Float32 || !scaleInv.is_contiguous() || scaleInv.device_type != DeviceType.CPU
            || !scaleInv.shape.SequenceEqual(grid))
            throw new InvalidArgumentException($"{name}: weight_scale_inv must be a contiguous fp32 CPU tensor " +
                                               $"[{string.Join(", ", grid)}], found {scaleInv.dtype} [{string.Join(", ", scaleInv.shape)}]");
        fixed (byte* scales = scaleInv.bytes) return (float*)scales;
    }

    private static string Describe(ScalarType type) => type == Float8E4M3.TorchType ? "float8_e4m3fn" : type.ToString();
}
