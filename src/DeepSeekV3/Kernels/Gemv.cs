using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSeekV3.Kernels;

/// <summary>
/// y = x·Wᵀ for a few rows of x (decoding: batch × new tokens ≤ <see cref="MaxRows"/>), straight on raw memory,
/// streaming the weight once at memory bandwidth. Each weight row is loaded once and multiplied against every input
/// row while it sits in L1 (4×4 register tiles). Weights fp32 or bf16 (widened to fp32 in registers, exact);
/// activations and accumulation fp32. Needs AVX-512 (<see cref="IsSupported"/>). LibTorch's GEMV/small-M paths read
/// weights at about half the bandwidth and get slower as rows grow from 1 to 32 (README, Performance).
/// </summary>
public static unsafe class Gemv
{
    public const int MaxRows = 16;

    /// <summary>Weights smaller than this (bytes) run on the calling thread alone: splitting them costs more than it saves.</summary>
    public const long TeamBytes = 64L << 10;

    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <summary>How far ahead the software prefetch runs, and the longest row it is used for (bytes); measured.</summary>
    private const int PrefetchDistance = 8192, PrefetchRowBytes = 4096;

    /// <summary>
    /// y [m, n] = x [m, k] · w [n, k]ᵀ, all row-major and contiguous; w is bf16 when <paramref name="bf16"/>.
    /// Output rows are shared among the <paramref name="team"/>'s members when w is large enough.
    /// </summary>
    public static void Multiply(float* x, int m, byte* w, bool bf16, int n, int k, float* y, WorkerTeam? team = null)
    {
        CheckRows(m);
        var work = new Work(x, w, y, m, k, n, bf16);
        if (team is null || team.Size == 1 || (long)n * k * (bf16 ? 2 : 4) < TeamBytes)
        {
            work.Run(0, n);
            return;
        }
        team.Run(member =>
        {
            var (first, last) = team.Share(member, n, align: 4);
            work.Run(first, last);
        });
    }

    /// <summary>Output rows [first, last) of <see cref="Multiply"/> only, for callers that split the work themselves.</summary>
    public static void MultiplyRange(float* x, int m, byte* w, bool bf16, int n, int k, float* y, int first, int last)
    {
        CheckRows(m);
        new Work(x, w, y, m, k, n, bf16).Run(first, last);
    }

    private static void CheckRows(int m)
    {
        if (m < 1 || m > MaxRows) throw new ArgumentOutOfRangeException(nameof(m), $"{m} rows; the kernel takes 1..{MaxRows}");
    }

    private readonly struct Work(float* x, byte* w, float* y, int m, int k, int n, bool bf16)
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
            // Software prefetch: the tile's four rows are one contiguous region of w, so one cursor walks it linearly,
            // PrefetchDistance bytes ahead, as many cache lines per step as the step consumes. The hardware prefetchers
            // lose track on short rows (a 320-wide fp32 row is 20 cache lines): cold-weight bandwidth doubles with
            // this for rows up to 4 KB (KernelBench, cold part); on longer rows they do better alone.
            int elementSize = bf16 ? 2 : 4;
            bool prefetch = i == 0 && (long)k * elementSize <= PrefetchRowBytes;
            byte* ahead = w + (long)j * k * elementSize + PrefetchDistance, end = w + (long)n * k * elementSize;
            int kk = 0;
            for (; kk <= k - 16; kk += 16)
            {
                if (prefetch && ahead < end)
                {
                    Sse.Prefetch0(ahead);
                    Sse.Prefetch0(ahead + 64);
                    if (!bf16)
                    {
                        Sse.Prefetch0(ahead + 128);
                        Sse.Prefetch0(ahead + 192);
                    }
                    ahead += 64 * elementSize;
                }
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
