using System.Runtime.Intrinsics;

namespace DeepSeekV3.Kernels;

/// <summary>
/// <see cref="Gemv"/> without AVX-512: each weight row's 128-column block is widened to fp32 once (scalar), then
/// dotted with every input row in Vector256 steps and multiplied by the block's scale (FP8; 1 otherwise). Correct
/// on any CPU and far from bandwidth; the decode kernels take it only where <see cref="Gemv.IsSupported"/> is false.
/// </summary>
internal static unsafe class GemvPortable
{
    /// <summary>Output rows [first, last) of y [m, w.Rows] = x [m, w.Columns] · wᵀ.</summary>
    public static void Multiply(float* x, int m, in WeightMatrix w, float* y, int first, int last)
    {
        int k = w.Columns, n = w.Rows;
        float* block = stackalloc float[WeightMatrix.BlockSize];
        float* sums = stackalloc float[Gemv.MaxRows];
        for (int row = first; row < last; row++)
        {
            new Span<float>(sums, m).Clear();
            for (int start = 0, b = 0; start < k; start += WeightMatrix.BlockSize, b++)
            {
                int width = Math.Min(WeightMatrix.BlockSize, k - start);
                Widen(w, row, start, width, block);
                float scale = w.Format == WeightFormat.Fp8E4M3 ? w.RowScales(row)[b] : 1f;
                for (int i = 0; i < m; i++)
                    sums[i] += scale * Dot(x + (long)i * k + start, block, width);
            }
            for (int i = 0; i < m; i++) y[(long)i * n + row] = sums[i];
        }
    }

    /// <summary>W[row, start..start+width) as fp32 (unscaled FP8 values).</summary>
    private static void Widen(in WeightMatrix w, int row, int start, int width, float* destination)
    {
        byte* p = w.Row(row) + (long)start * w.ElementBytes;
        for (int j = 0; j < width; j++)
            destination[j] = w.Format switch
            {
                WeightFormat.F32 => ((float*)p)[j],
                WeightFormat.Bf16 => RowMath.Bf16ToFloat(((ushort*)p)[j]),
                _ => RowMath.Fp8ToFloat(p[j]),
            };
    }

    private static float Dot(float* a, float* b, int n)
    {
        var sum = Vector256<float>.Zero;
        int i = 0;
        for (; i <= n - 8; i += 8)
            sum = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), sum);
        float s = Vector256.Sum(sum);
        for (; i < n; i++) s += a[i] * b[i];
        return s;
    }
}
