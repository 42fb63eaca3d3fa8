using System.Runtime.Intrinsics;
using DeepSeekV3.Kernels;

namespace DeepSeekV3.Tests.Kernels;

public unsafe class RowMathTests
{
    private static float[] ExpOf(float[] x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < x.Length; i += 16)
            RowMath.Exp(Vector512.Create(x, i)).CopyTo(y, i);
        return y;
    }

    [Fact]
    public void Exp_is_within_two_ulp_of_double_precision_over_the_fp32_range()
    {
        // A sweep of the range where e^x is a normal fp32 (step chosen so lanes land on many reduction boundaries).
        var x = new float[16 * 4000];
        for (int i = 0; i < x.Length; i++) x[i] = -87f + i * (175f / x.Length);
        var y = ExpOf(x);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Math.Exp(x[i]);
            double ulp = MathF.BitIncrement((float)expected) - (float)expected;
            Assert.True(Math.Abs(y[i] - expected) <= 2 * ulp, $"e^{x[i]}: {y[i]:R} vs {expected:R}, {(y[i] - expected) / ulp:F2} ulp");
        }
    }

    [Fact]
    public void Exp_edges_flush_to_zero_below_the_normal_range_and_keep_nan()
    {
        float[] x = [0f, 1f, -1f, -100f, float.NegativeInfinity, 100f, float.PositiveInfinity, float.NaN, -87.3f, 88f, 0, 0, 0, 0, 0, 0];
        var y = ExpOf(x);
        Assert.Equal(1f, y[0]);
        Assert.Equal(MathF.E, y[1], 6);
        Assert.Equal(1 / MathF.E, y[2], 6);
        // Below e^-87.3 (past the normal range) the result is 0, never a denormal; a masked −∞ score gets exactly 0.
        Assert.Equal(0f, y[3]);
        Assert.Equal(0f, y[4]);
        Assert.Equal((float)Math.Exp(88), y[5], 1e33f);
        Assert.Equal(y[5], y[6]);
        Assert.True(float.IsNaN(y[7]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(600)]
    public void Softmax_matches_double_precision(int n)
    {
        var random = new Random(n);
        var x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 120 - 100)).ToArray();
        double max = x.Max();
        var expected = x.Select(v => Math.Exp(v - (float)max)).ToArray();   // v − max rounded to fp32, as the kernel does
        double sum = expected.Sum();
        fixed (float* p = x) RowMath.Softmax(p, n);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(x[i] - expected[i] / sum) <= 1e-6 * expected[i] / sum + 1e-37, $"{i}: {x[i]} vs {expected[i] / sum}");
    }

    [Fact]
    public void SiluMul_matches_double_precision_including_large_magnitudes()
    {
        var random = new Random(5);
        int n = 40;
        var gate = Enumerable.Range(0, n).Select(i => i < 4 ? new[] { -200f, -90f, 90f, 200f }[i] : (float)(random.NextDouble() * 30 - 15)).ToArray();
        var up = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var expected = gate.Select((g, i) => g / (1 + Math.Exp(-(double)g)) * up[i]).ToArray();
        fixed (float* g = gate, u = up) RowMath.SiluMul(g, u, n);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(gate[i] - expected[i]) <= 1e-6 * Math.Abs(expected[i]) + 1e-30, $"{i}: {gate[i]} vs {expected[i]}");
    }

    [Fact]
    public void Narrow_rounds_to_nearest_even_like_LibTorch_in_vectors_and_tail()
    {
        // Random values plus the cases that matter: ties both ways, ±0, ±inf, NaN, the largest finite fp32.
        var random = new Random(11);
        var x = Enumerable.Range(0, 16 * 50 + 5).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-30, 30)))).ToArray();
        float[] special = [BitConverter.Int32BitsToSingle(0x3F808000), BitConverter.Int32BitsToSingle(0x3F818000), 0f, -0f,
                           float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue];
        special.CopyTo(x, 3);
        special.CopyTo(x, x.Length - special.Length);            // in the scalar tail too
        var y = new ushort[x.Length];
        fixed (float* source = x)
        fixed (ushort* destination = y)
            RowMath.Narrow(source, destination, x.Length);
        using var expected = TorchSharp.torch.tensor(x).to(TorchSharp.torch.ScalarType.BFloat16).to(TorchSharp.torch.ScalarType.Float32);
        var reference = expected.data<float>().ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            float actual = RowMath.Bf16ToFloat(y[i]);
            Assert.True(actual.Equals(reference[i]), $"{x[i]:R} → {actual:R}, LibTorch {reference[i]:R}");
        }
    }
}
