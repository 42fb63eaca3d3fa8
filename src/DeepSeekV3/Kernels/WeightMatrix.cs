using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Kernels;

/// <summary>
/// A view of a 2-D weight tensor's memory [rows, columns] (fp32 or bf16, contiguous, on the CPU) for the decode
/// kernels. It does not own the memory: the tensor must outlive it and must not be replaced (Module.to() replaces
/// parameters, so build views after moving the model).
/// </summary>
public readonly unsafe struct WeightMatrix
{
    public WeightMatrix(Tensor weight, string name)
    {
        if (weight.dim() != 2 || !weight.is_contiguous() || weight.device_type != DeviceType.CPU
            || weight.dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new ArgumentException($"{name}: the decode kernels need a contiguous 2-D fp32 or bf16 CPU tensor, " +
                                        $"found {weight.dtype} [{string.Join(", ", weight.shape)}] on {weight.device}");
        fixed (byte* data = weight.bytes) Data = data;
        Rows = (int)weight.shape[0];
        Columns = (int)weight.shape[1];
        Bf16 = weight.dtype == ScalarType.BFloat16;
    }

    public byte* Data { get; }
    public int Rows { get; }
    public int Columns { get; }
    public bool Bf16 { get; }

    public long Bytes => (long)Rows * Columns * (Bf16 ? 2 : 4);

    /// <summary>y [m, rows] = x [m, columns] · Wᵀ.</summary>
    public void Multiply(float* x, int m, float* y, WorkerTeam? team) => Gemv.Multiply(x, m, Data, Bf16, Rows, Columns, y, team);

    /// <summary>x · W[row].</summary>
    public float DotRow(float* x, int row) => Bf16
        ? RowMath.DotBf16(x, (ushort*)Data + (long)row * Columns, Columns)
        : RowMath.Dot(x, (float*)Data + (long)row * Columns, Columns);

    /// <summary>y += a · W[row].</summary>
    public void AxpyRow(float* y, float a, int row)
    {
        if (Bf16) RowMath.AxpyBf16(y, a, (ushort*)Data + (long)row * Columns, Columns);
        else RowMath.Axpy(y, a, (float*)Data + (long)row * Columns, Columns);
    }

    /// <summary>W[row] as fp32 into <paramref name="destination"/> (an embedding lookup).</summary>
    public void CopyRow(int row, float* destination)
    {
        if (Bf16) RowMath.Widen((ushort*)Data + (long)row * Columns, destination, Columns);
        else Buffer.MemoryCopy((float*)Data + (long)row * Columns, destination, Columns * 4L, Columns * 4L);
    }
}
