using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Kernels;

/// <summary>
/// y = x·Wᵀ for a few rows of x (decoding: batch × new tokens ≤ <see cref="MaxRows"/>) on the CPU, streaming the
/// weight once at memory bandwidth. LibTorch's GEMV/small-M paths read weights at about half the bandwidth and get
/// slower as rows grow from 1 to 32 (see README, Performance). Each weight row is loaded once and multiplied against
/// every input row while it sits in L1; output rows are split across the cores. Weights fp32 or bf16 (widened to
/// fp32 in registers); activations and accumulation fp32. Needs AVX-512 (Vector512); callers check
/// <see cref="Supports"/> and fall back to torch otherwise.
/// </summary>
public static class SmallBatchLinear
{
    public const int MaxRows = 16;

    /// <summary>Weights smaller than this (bytes) run on the calling thread.</summary>
    private const long ParallelBytes = 8L << 20;

    /// <summary>Rows of x are few, everything is on the CPU and contiguous, and no gradient is wanted.</summary>
    public static bool Supports(Tensor x, Tensor weight)
    {
        if (!Vector512.IsHardwareAccelerated || is_grad_enabled()) return false;
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
            var work = new Work((float*)xBytes, wBytes, (float*)yBytes, m, k, n, weight.dtype == ScalarType.BFloat16);
            // Only big weights are split across threads (as many as LibTorch is told to use): waking a pool thread
            // costs more than streaming a few MB, and on a busy machine far more.
            int threads = Math.Min(get_num_threads(), Environment.ProcessorCount);
            if (threads <= 1 || (long)n * k * weight.ElementSize < ParallelBytes)
            {
                work.Run(0, n);
            }
            else
            {
                int chunk = (n / (threads * 4) + 3) & ~3;                     // a multiple of the 4-row tile
                int chunks = (n + chunk - 1) / chunk;
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads },
                    c => work.Run(c * chunk, Math.Min(n, (c + 1) * chunk)));
            }
        }
        var shape = x.shape.ToArray();
        shape[^1] = n;
        return output.reshape(shape).to(x.dtype).MoveToOuterDisposeScope();
    }

    private readonly unsafe struct Work(float* x, byte* w, float* y, int m, int k, int n, bool bf16)
    {
        public void Run(int first, int last)
        {
            for (int j = first; j < last; j += 4)
                for (int i = 0; i < m; i += 4)
                    Tile(j, Math.Min(4, last - j), i, Math.Min(4, m - i));
        }

        /// <summary>
        /// y[i..i+rows, j..j+columns] (up to 4×4) in 16 register accumulators: each weight vector is loaded once
        /// for four input rows and each input vector once for four weight rows. Missing rows or columns alias
        /// row/column 0 and their sums are dropped.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Tile(int j, int columns, int i, int rows)
        {
            float* x0 = x + (long)i * k;
            float* x1 = rows > 1 ? x0 + k : x0, x2 = rows > 2 ? x0 + 2L * k : x0, x3 = rows > 3 ? x0 + 3L * k : x0;
            int j1 = columns > 1 ? j + 1 : j, j2 = columns > 2 ? j + 2 : j, j3 = columns > 3 ? j + 3 : j;
            Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
            Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
            Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
            Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
            int kk = 0;
            for (; kk <= k - 16; kk += 16)
            {
                var w0 = Weight(j, kk);
                var w1 = Weight(j1, kk);
                var w2 = Weight(j2, kk);
                var w3 = Weight(j3, kk);
                var v = Vector512.Load(x0 + kk);
                a00 = Vector512.FusedMultiplyAdd(v, w0, a00); a01 = Vector512.FusedMultiplyAdd(v, w1, a01);
                a02 = Vector512.FusedMultiplyAdd(v, w2, a02); a03 = Vector512.FusedMultiplyAdd(v, w3, a03);
                if (rows == 1) continue;
                v = Vector512.Load(x1 + kk);
                a10 = Vector512.FusedMultiplyAdd(v, w0, a10); a11 = Vector512.FusedMultiplyAdd(v, w1, a11);
                a12 = Vector512.FusedMultiplyAdd(v, w2, a12); a13 = Vector512.FusedMultiplyAdd(v, w3, a13);
                v = Vector512.Load(x2 + kk);
                a20 = Vector512.FusedMultiplyAdd(v, w0, a20); a21 = Vector512.FusedMultiplyAdd(v, w1, a21);
                a22 = Vector512.FusedMultiplyAdd(v, w2, a22); a23 = Vector512.FusedMultiplyAdd(v, w3, a23);
                v = Vector512.Load(x3 + kk);
                a30 = Vector512.FusedMultiplyAdd(v, w0, a30); a31 = Vector512.FusedMultiplyAdd(v, w1, a31);
                a32 = Vector512.FusedMultiplyAdd(v, w2, a32); a33 = Vector512.FusedMultiplyAdd(v, w3, a33);
            }
            Store(x0, i, j, j1, j2, j3, columns, kk, a00, a01, a02, a03);
            if (rows > 1) Store(x1, i + 1, j, j1, j2, j3, columns, kk, a10, a11, a12, a13);
            if (rows > 2) Store(x2, i + 2, j, j1, j2, j3, columns, kk, a20, a21, a22, a23);
            if (rows > 3) Store(x3, i + 3, j, j1, j2, j3, columns, kk, a30, a31, a32, a33);
        }

        /// <summary>Reduces one input row's accumulators, adds the scalar tail (k not a multiple of 16), stores.</summary>
        private void Store(float* xr, int row, int j0, int j1, int j2, int j3, int columns, int tail,
            Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3)
        {
            float s0 = Vector512.Sum(c0), s1 = Vector512.Sum(c1), s2 = Vector512.Sum(c2), s3 = Vector512.Sum(c3);
            for (int kk = tail; kk < k; kk++)
            {
                s0 += xr[kk] * WeightAt(j0, kk); s1 += xr[kk] * WeightAt(j1, kk);
                s2 += xr[kk] * WeightAt(j2, kk); s3 += xr[kk] * WeightAt(j3, kk);
            }
            float* yr = y + (long)row * n;
            yr[j0] = s0;
            if (columns > 1) yr[j1] = s1;
            if (columns > 2) yr[j2] = s2;
            if (columns > 3) yr[j3] = s3;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Vector512<float> Weight(int row, int column)
        {
            if (!bf16)
                return Vector512.Load((float*)w + (long)row * k + column);
            // bf16 is the upper half of an fp32: widen 16 values and shift them into place.
            var raw = Vector256.Load((ushort*)w + (long)row * k + column);
            return Vector512.ShiftLeft(Vector512.WidenLower(raw.ToVector512()), 16).AsSingle();
        }

        private float WeightAt(int row, int column) => bf16
            ? BitConverter.Int32BitsToSingle(((ushort*)w)[(long)row * k + column] << 16)
            : ((float*)w)[(long)row * k + column];
    }
}
