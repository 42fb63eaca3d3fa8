using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSeekV3.Kernels;

/// <summary>
/// y = x·Wᵀ for a few rows of x (decoding: batch × new tokens ≤ <see cref="MaxRows"/>), straight on raw memory,
/// streaming the weight once at memory bandwidth. Each weight row is loaded once and multiplied against every input
/// row while it sits in L1 (4×4 register tiles). Weights fp32, bf16 or block-scaled FP8 E4M3 (<see cref="WeightFormat"/>;
/// widened to fp32 in registers, exact); activations and accumulation fp32. Fast with AVX-512 (<see cref="IsSupported"/>);
/// elsewhere <see cref="GemvPortable"/> computes the same with Vector256. LibTorch's GEMV/small-M paths read
/// the weights well below memory bandwidth and slow down as rows are added (bench/KernelBench measures both).
/// </summary>
public static unsafe class Gemv
{
    public const int MaxRows = 16;

    /// <summary>Weights smaller than this (bytes) run on the calling thread alone: splitting them costs more than it saves.</summary>
    public const long TeamBytes = 64L << 10;

    public static bool IsSupported => Vector512.IsHardwareAccelerated;

    /// <summary>How far (bytes) ahead of the weights being read the software prefetch runs; measured (KernelBench).</summary>
    private const int PrefetchDistance = 16384;

    /// <summary>
    /// y [m, w.Rows] = x [m, w.Columns] · wᵀ, all row-major and contiguous. Output rows are shared among the
    /// <paramref name="team"/>'s members when w is large enough.
    /// </summary>
    public static void Multiply(float* x, int m, in WeightMatrix w, float* y, WorkerTeam? team = null)
    {
        CheckRows(m);
        var work = new Work(x, w, y, m, prefetch: true);
        int n = w.Rows;
        if (team is null || team.Size == 1 || w.Bytes < TeamBytes)
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

    /// <summary>y [m, n] = x [m, k] · w [n, k]ᵀ for fp32 w, or bf16 when <paramref name="bf16"/>.</summary>
    public static void Multiply(float* x, int m, byte* w, bool bf16, int n, int k, float* y, WorkerTeam? team = null) =>
        Multiply(x, m, new WeightMatrix(w, null, n, k, bf16 ? WeightFormat.Bf16 : WeightFormat.F32, "weight"), y, team);

    /// <summary>Output rows [first, last) of <see cref="Multiply(float*, int, in WeightMatrix, float*, WorkerTeam?)"/>
    /// only, for callers that split the work themselves. <paramref name="prefetch"/>: false for small operands that
    /// are already in cache (attention over a cache block).</summary>
    public static void MultiplyRange(float* x, int m, in WeightMatrix w, float* y, int first, int last, bool prefetch = true)
    {
        CheckRows(m);
        new Work(x, w, y, m, prefetch).Run(first, last);
    }

    /// <summary>As <see cref="MultiplyRange(float*, int, in WeightMatrix, float*, int, int, bool)"/> for fp32 or bf16 w [n, k].</summary>
    public static void MultiplyRange(float* x, int m, byte* w, bool bf16, int n, int k, float* y, int first, int last,
        bool prefetch = true) =>
        MultiplyRange(x, m, new WeightMatrix(w, null, n, k, bf16 ? WeightFormat.Bf16 : WeightFormat.F32, "weight"), y, first, last, prefetch);

    private static void CheckRows(int m)
    {
        if (m < 1 || m > MaxRows) throw new ArgumentOutOfRangeException(nameof(m), $"{m} rows; the kernel takes 1..{MaxRows}");
    }

    private readonly struct Work(float* x, WeightMatrix w, float* y, int m, bool prefetch)
    {
        public void Run(int first, int last)
        {
            if (!IsSupported)
            {
                GemvPortable.Multiply(x, m, w, y, first, last);
                return;
            }
            int n = w.Rows, k = w.Columns;
            switch (w.Format)
            {
                case WeightFormat.F32: Kernel<float>.Run(x, (float*)w.Data, y, m, k, n, first, last, prefetch); break;
                case WeightFormat.Bf16: Kernel<ushort>.Run(x, (ushort*)w.Data, y, m, k, n, first, last, prefetch); break;
                default: RunFp8(first, last); break;
            }
        }

        /// <summary>
        /// FP8 rows [first, last), one 128-row block of scales at a time. Within a row block every weight row has the
        /// same scale per 128 columns, so instead of scaling each block's partial sums (16 more accumulators for a
        /// 4×4 tile than the 32 registers hold) the scales go into a copy of x, x·S[block] (m·k multiplies per 128
        /// weight rows, under 1% of the work), and the inner loop is the bf16 one with a different widening. The
        /// copy also takes the widening's 2^120 rebias (<see cref="RowMath.LoadFp8Shifted"/>: three instructions per
        /// 16 codes instead of four; the products are the same numbers), unless some |x·S| ≥ 2^7 would overflow
        /// fp32 at x·S·2^120: that block then runs with the rebias in the widening.
        /// </summary>
        private void RunFp8(int first, int last)
        {
            int n = w.Rows, k = w.Columns;
            var buffer = ArrayPool<float>.Shared.Rent(m * k);
            try
            {
                fixed (float* scaled = buffer)
                    for (int block = first / WeightMatrix.BlockSize; block * WeightMatrix.BlockSize < last; block++)
                    {
                        int from = Math.Max(first, block * WeightMatrix.BlockSize), to = Math.Min(last, (block + 1) * WeightMatrix.BlockSize);
                        float* scales = w.RowScales(block * WeightMatrix.BlockSize);
                        if (ScaleColumns(x, m, k, scales, scaled, RowMath.Fp8Rebias) < ShiftedLimit)
                            Kernel<Fp8Shifted>.Run(scaled, (Fp8Shifted*)w.Data, y, m, k, n, from, to, prefetch);
                        else
                        {
                            ScaleColumns(x, m, k, scales, scaled, 1f);
                            Kernel<byte>.Run(scaled, w.Data, y, m, k, n, from, to, prefetch);
                        }
                    }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>2^127: |x·S·2^120| at or above this runs with the rebias in the widening (a NaN in x goes either way:
    /// the products are NaN in both).</summary>
    private const float ShiftedLimit = (float)(1L << 62) * (1L << 62) * 8f;

    /// <summary>An E4M3 code read as its value times 2^−120 (<see cref="RowMath.LoadFp8Shifted"/>): the kernel's
    /// element type when x carries the 2^120.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 1)]
    private readonly struct Fp8Shifted;

    /// <summary>scaled[i, j] = x[i, j] · scales[j / 128] · factor for x [m, k]; returns the largest |scaled|.</summary>
    internal static float ScaleColumns(float* x, int m, int k, float* scales, float* scaled, float factor)
    {
        var largest = Vector512<float>.Zero;
        float tail = 0;
        for (int i = 0; i < m; i++)
            for (int start = 0, block = 0; start < k; start += WeightMatrix.BlockSize, block++)
            {
                int end = Math.Min(k, start + WeightMatrix.BlockSize), j = start;
                float s = scales[block] * factor;
                var scale = Vector512.Create(s);
                for (; j <= end - 16; j += 16)
                {
                    var v = Vector512.Load(x + (long)i * k + j) * scale;
                    v.Store(scaled + (long)i * k + j);
                    largest = Vector512.Max(largest, Vector512.Abs(v));
                }
                for (; j < end; j++)
                {
                    float v = x[(long)i * k + j] * s;
                    scaled[(long)i * k + j] = v;
                    tail = Math.Max(tail, Math.Abs(v));
                }
            }
        float result = tail;
        for (int lane = 0; lane < 16; lane++) result = Math.Max(result, largest[lane]);
        return result;
    }

    /// <summary>The kernel for one weight element type (float, bf16 as ushort, or E4M3 codes as byte or
    /// <see cref="Fp8Shifted"/>, their block scales already in x); the JIT compiles each separately.</summary>
    private static class Kernel<T> where T : unmanaged
    {
        public static void Run(float* x, T* w, float* y, int m, int k, int n, int first, int last, bool prefetch)
        {
            if (prefetch)   // the stream below starts PrefetchDistance ahead: start the gap's lines loading too
                for (byte* p = (byte*)(w + (long)first * k), stop = (byte*)(w + (long)last * k), gap = p + PrefetchDistance;
                     p < stop && p < gap; p += 64)
                    Sse.Prefetch1(p);
            for (int j = first; j < last; j += 4)
            {
                int columns = Math.Min(4, last - j);
                T* w0 = w + (long)j * k;
                T* w1 = columns > 1 ? w0 + k : w0, w2 = columns > 2 ? w0 + 2L * k : w0, w3 = columns > 3 ? w0 + 3L * k : w0;
                // A tile's four rows are one contiguous region, read at four cache lines (fp32; two for bf16) per
                // step of 16: the steps prefetch as many lines PrefetchDistance bytes ahead, one even stream into L2
                // that runs over into the next tiles. The hardware prefetchers lose track of four short interleaved
                // rows; with this, cold weights stream near the read-only ceiling (KernelBench, cold part).
                byte* ahead = prefetch ? (byte*)w0 + PrefetchDistance : null;
                for (int i = 0; i < m; i += 4)
                {
                    float* xi = x + (long)i * k, yi = y + (long)i * n + j;
                    switch (Math.Min(4, m - i))
                    {
                        case 1: Tile1(xi, w0, w1, w2, w3, k, yi, columns, ahead); break;
                        case 2: Tile2(xi, w0, w1, w2, w3, k, yi, n, columns, ahead); break;
                        default: Tile4(xi, w0, w1, w2, w3, k, yi, n, columns, Math.Min(4, m - i), ahead); break;
                    }
                    ahead = null;   // the tile's later input rows find it in L1
                }
            }
        }

        /// <summary>Prefetches the lines one step of 16 reads from a four-row tile (64·sizeof(T) bytes) and moves on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Ahead(ref byte* ahead)
        {
            if (ahead == null) return;
            Sse.Prefetch1(ahead);
            if (sizeof(T) >= 2) Sse.Prefetch1(ahead + 64);
            if (sizeof(T) == 4)
            {
                Sse.Prefetch1(ahead + 128);
                Sse.Prefetch1(ahead + 192);
            }
            ahead += 64 * sizeof(T);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector512<float> Load(T* p) =>
            typeof(T) == typeof(float) ? Vector512.Load((float*)p)
            : typeof(T) == typeof(ushort) ? RowMath.LoadBf16((ushort*)p)
            : typeof(T) == typeof(Fp8Shifted) ? RowMath.LoadFp8Shifted((byte*)p)
            : RowMath.LoadFp8((byte*)p);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static float At(T* p, int i) =>
            typeof(T) == typeof(float) ? ((float*)p)[i]
            : typeof(T) == typeof(ushort) ? RowMath.Bf16ToFloat(((ushort*)p)[i])
            : typeof(T) == typeof(Fp8Shifted) ? RowMath.Fp8ToShifted(((byte*)p)[i])
            : RowMath.Fp8ToFloat(((byte*)p)[i]);

        /// <summary>One input row against four weight rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Tile1(float* x, T* w0, T* w1, T* w2, T* w3, int k, float* y, int columns, byte* ahead)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int kk = 0;
            for (; kk <= k - 16; kk += 16)
            {
                Ahead(ref ahead);
                var v = Vector512.Load(x + kk);
                a0 = Vector512.FusedMultiplyAdd(v, Load(w0 + kk), a0);
                a1 = Vector512.FusedMultiplyAdd(v, Load(w1 + kk), a1);
                a2 = Vector512.FusedMultiplyAdd(v, Load(w2 + kk), a2);
                a3 = Vector512.FusedMultiplyAdd(v, Load(w3 + kk), a3);
            }
            Store(x, w0, w1, w2, w3, kk, k, y, columns, a0, a1, a2, a3);
        }

        /// <summary>Two input rows against four weight rows: each weight vector loaded once for both.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Tile2(float* x, T* w0, T* w1, T* w2, T* w3, int k, float* y, int n, int columns, byte* ahead)
        {
            Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
            Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
            float* x1 = x + k;
            int kk = 0;
            for (; kk <= k - 16; kk += 16)
            {
                Ahead(ref ahead);
                Vector512<float> f0 = Load(w0 + kk), f1 = Load(w1 + kk), f2 = Load(w2 + kk), f3 = Load(w3 + kk);
                var v = Vector512.Load(x + kk);
                a00 = Vector512.FusedMultiplyAdd(v, f0, a00); a01 = Vector512.FusedMultiplyAdd(v, f1, a01);
                a02 = Vector512.FusedMultiplyAdd(v, f2, a02); a03 = Vector512.FusedMultiplyAdd(v, f3, a03);
                v = Vector512.Load(x1 + kk);
                a10 = Vector512.FusedMultiplyAdd(v, f0, a10); a11 = Vector512.FusedMultiplyAdd(v, f1, a11);
                a12 = Vector512.FusedMultiplyAdd(v, f2, a12); a13 = Vector512.FusedMultiplyAdd(v, f3, a13);
            }
            Store(x, w0, w1, w2, w3, kk, k, y, columns, a00, a01, a02, a03);
            Store(x1, w0, w1, w2, w3, kk, k, y + n, columns, a10, a11, a12, a13);
        }

        /// <summary>
        /// Three or four input rows against four weight rows in 16 accumulators; a missing fourth row aliases the
        /// third and its sums are dropped.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Tile4(float* x, T* w0, T* w1, T* w2, T* w3, int k, float* y, int n, int columns, int rows, byte* ahead)
        {
            Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
            Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
            Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
            Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
            float* x1 = x + k, x2 = x + 2L * k, x3 = rows > 3 ? x + 3L * k : x2;
            int kk = 0;
            for (; kk <= k - 16; kk += 16)
            {
                Ahead(ref ahead);
                Vector512<float> f0 = Load(w0 + kk), f1 = Load(w1 + kk), f2 = Load(w2 + kk), f3 = Load(w3 + kk);
                var v = Vector512.Load(x + kk);
                a00 = Vector512.FusedMultiplyAdd(v, f0, a00); a01 = Vector512.FusedMultiplyAdd(v, f1, a01);
                a02 = Vector512.FusedMultiplyAdd(v, f2, a02); a03 = Vector512.FusedMultiplyAdd(v, f3, a03);
                v = Vector512.Load(x1 + kk);
                a10 = Vector512.FusedMultiplyAdd(v, f0, a10); a11 = Vector512.FusedMultiplyAdd(v, f1, a11);
                a12 = Vector512.FusedMultiplyAdd(v, f2, a12); a13 = Vector512.FusedMultiplyAdd(v, f3, a13);
                v = Vector512.Load(x2 + kk);
                a20 = Vector512.FusedMultiplyAdd(v, f0, a20); a21 = Vector512.FusedMultiplyAdd(v, f1, a21);
                a22 = Vector512.FusedMultiplyAdd(v, f2, a22); a23 = Vector512.FusedMultiplyAdd(v, f3, a23);
                v = Vector512.Load(x3 + kk);
                a30 = Vector512.FusedMultiplyAdd(v, f0, a30); a31 = Vector512.FusedMultiplyAdd(v, f1, a31);
                a32 = Vector512.FusedMultiplyAdd(v, f2, a32); a33 = Vector512.FusedMultiplyAdd(v, f3, a33);
            }
            Store(x, w0, w1, w2, w3, kk, k, y, columns, a00, a01, a02, a03);
            Store(x1, w0, w1, w2, w3, kk, k, y + n, columns, a10, a11, a12, a13);
            Store(x2, w0, w1, w2, w3, kk, k, y + 2L * n, columns, a20, a21, a22, a23);
            if (rows > 3) Store(x3, w0, w1, w2, w3, kk, k, y + 3L * n, columns, a30, a31, a32, a33);
        }

        /// <summary>Reduces one input row's four accumulators, adds the scalar tail (k not a multiple of 16), stores
        /// the existing columns (missing ones alias column 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(float* x, T* w0, T* w1, T* w2, T* w3, int tail, int k, float* y, int columns,
            Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3)
        {
            var sums = Reduce4(c0, c1, c2, c3);
            if (tail < k)
            {
                float s0 = sums[0], s1 = sums[1], s2 = sums[2], s3 = sums[3];
                for (int kk = tail; kk < k; kk++)
                {
                    s0 += x[kk] * At(w0, kk); s1 += x[kk] * At(w1, kk);
                    s2 += x[kk] * At(w2, kk); s3 += x[kk] * At(w3, kk);
                }
                sums = Vector128.Create(s0, s1, s2, s3);
            }
            if (columns == 4)
            {
                sums.Store(y);
                return;
            }
            for (int c = 0; c < columns; c++) y[c] = sums[c];
        }

        /// <summary>[Σa, Σb, Σc, Σd]: halve each accumulator twice, then three horizontal adds.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<float> Reduce4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
        {
            Vector256<float> a8 = a.GetLower() + a.GetUpper(), b8 = b.GetLower() + b.GetUpper();
            Vector256<float> c8 = c.GetLower() + c.GetUpper(), d8 = d.GetLower() + d.GetUpper();
            Vector128<float> a4 = a8.GetLower() + a8.GetUpper(), b4 = b8.GetLower() + b8.GetUpper();
            Vector128<float> c4 = c8.GetLower() + c8.GetUpper(), d4 = d8.GetLower() + d8.GetUpper();
            return Sse3.HorizontalAdd(Sse3.HorizontalAdd(a4, b4), Sse3.HorizontalAdd(c4, d4));
        }
    }
}
