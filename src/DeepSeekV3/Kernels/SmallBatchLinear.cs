using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Kernels;

/// <summary>
/// The <see cref="Gemv"/> kernel on tensors: y = x·Wᵀ for a few rows of x on the CPU. Callers check
/// <see cref="Supports"/> and fall back to torch otherwise.
/// </summary>
public static class SmallBatchLinear
{
    public const int MaxRows = Gemv.MaxRows;

    /// <summary>Rows of x are few, everything is on the CPU and contiguous, and no gradient is wanted.</summary>
    public static bool Supports(Tensor x, Tensor weight)
    {
        if (!Gemv.IsSupported || is_grad_enabled()) return false;
        if (x.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU || weight.dim() != 2) return false;
        if (weight.dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || !weight.is_contiguous()) return false;
        if (x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16)) return false;
        long rows = x.NumberOfElements / Math.Max(1, x.shape[^1]);
        return rows is > 0 and <= MaxRows && x.shape[^1] == weight.shape[1];
    }

    /// <summary>x [..., in] · weight [out, in]ᵀ → [..., out] in x's dtype. The caller owns the result.</summary>
    public static unsafe Tensor Forward(Tensor x, Tensor weight)
    {
        int k = (int)weight.shape[1], n = (int)weight.shape[0];
        using var scope = NewDisposeScope();
        var input = x.to(ScalarType.Float32).contiguous().reshape(-1, k);
        int m = (int)input.shape[0];
        var output = empty([m, n], ScalarType.Float32);
        fixed (byte* xBytes = input.bytes)
        fixed (byte* wBytes = weight.bytes)
        fixed (byte* yBytes = output.bytes)
        {
            // Threads as many as LibTorch is told to use.
            Gemv.Multiply((float*)xBytes, m, wBytes, weight.dtype == ScalarType.BFloat16, n, k, (float*)yBytes,
                Math.Min(get_num_threads(), Environment.ProcessorCount));
        }
        var shape = x.shape.ToArray();
        shape[^1] = n;
        return output.reshape(shape).to(x.dtype).MoveToOuterDisposeScope();
    }
}
