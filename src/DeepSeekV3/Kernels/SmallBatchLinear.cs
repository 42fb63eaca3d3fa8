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

    /// <summary>Weights smaller than this (bytes) run on the calling thread.</summary>
    private const long ParallelBytes = 8L << 20;

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
            float* xs = (float*)xBytes, ys = (float*)yBytes;
            byte* ws = wBytes;
            bool bf16 = weight.dtype == ScalarType.BFloat16;
            // Only big weights are split across threads (as many as LibTorch is told to use): waking a pool thread
            // costs more than streaming a few MB, and on a busy machine far more.
            int threads = Math.Min(get_num_threads(), Environment.ProcessorCount);
            if (threads <= 1 || (long)n * k * weight.ElementSize < ParallelBytes)
            {
                Gemv.MultiplyRange(xs, m, ws, bf16, n, k, ys, 0, n);
            }
            else
            {
                int chunk = (n / (threads * 4) + 3) & ~3;                     // a multiple of the 4-row tile
                int chunks = (n + chunk - 1) / chunk;
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                    c => Gemv.MultiplyRange(xs, m, ws, bf16, n, k, ys, c * chunk, Math.Min(n, (c + 1) * chunk)));
            }
        }
        var shape = x.shape.ToArray();
        shape[^1] = n;
        return output.reshape(shape).to(x.dtype).MoveToOuterDisposeScope();
    }
}
