using System.Runtime.Intrinsics;
using DeepSeekV3.Kernels;
using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Kernels;

/// <summary>
/// The decode kernels on every <see cref="WeightFormat"/> against LibTorch: weights dequantized by LibTorch's own
/// casts (fp8 → float64 times the block's scale), products in float64. Shapes are not multiples of 16, 4 or 128, so
/// edge tiles, scalar tails and partial scale blocks are all exercised.
/// </summary>
public unsafe class GemvFormatTests
{
    /// <summary>A weight [n, k] in <paramref name="format"/> and its exact value in float64; the caller disposes both.</summary>
    internal static (Tensor Stored, Tensor? Scales, Tensor Exact) MakeWeight(WeightFormat format, int n, int k, int seed)
    {
        using var w = randn([n, k], generator: new Generator((ulong)seed)) * 0.05;
        switch (format)
        {
            case WeightFormat.F32:
                return (w.clone(), null, w.to(ScalarType.Float64));
            case WeightFormat.Bf16:
                var bf16 = w.to(ScalarType.BFloat16);
                return (bf16, null, bf16.to(ScalarType.Float64));
            default:
                var (q, s) = BlockQuantization.QuantizeWeight(w);
                using (var grid = s.to(ScalarType.Float64).repeat_interleave(WeightMatrix.BlockSize, 0)
                           .repeat_interleave(WeightMatrix.BlockSize, 1).narrow(0, 0, n).narrow(1, 0, k))
                    return (q, s, q.to(ScalarType.Float64) * grid);
        }
    }

    internal static WeightMatrix View(Tensor stored, Tensor? scales, string name) =>
        scales is null ? new WeightMatrix(stored, name) : new WeightMatrix(stored, scales, name);

    public static TheoryData<WeightFormat, int, int> Shapes()
    {
        var data = new TheoryData<WeightFormat, int, int>();
        foreach (var format in Enum.GetValues<WeightFormat>())
        {
            data.Add(format, 131, 259);     // 2 × 3 scale blocks, 3-row and 3-column edge blocks, 3-element tail
            data.Add(format, 257, 77);      // one partial column block, 257 = 2 · 128 + 1 rows
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Multiply_matches_the_dequantized_product_for_1_to_16_rows(WeightFormat format, int n, int k)
    {
        using var _ = no_grad();
        var (stored, scales, exact) = MakeWeight(format, n, k, seed: 7);
        using (stored) using (scales) using (exact)
        using (var team = new WorkerTeam(2))
        {
            var w = View(stored, scales, "w");
            using var allX = randn([Gemv.MaxRows, k], generator: new Generator(8));
            for (int m = 1; m <= Gemv.MaxRows; m++)
            {
                using var x = allX.narrow(0, 0, m).contiguous();
                using var expected = x.to(ScalarType.Float64).matmul(exact.t());
                foreach (var mode in new[] { "one thread", "team", "portable" })
                {
                    using var y = full([m, n], float.NaN);
                    fixed (byte* xs = x.bytes)
                    fixed (byte* ys = y.bytes)
                    {
                        if (mode == "portable") GemvPortable.Multiply((float*)xs, m, w, (float*)ys, 0, n);
                        else if (mode == "team") Gemv.Multiply((float*)xs, m, w, (float*)ys, team);
                        else w.Multiply((float*)xs, m, (float*)ys, null);
                    }
                    double error = (y.to(ScalarType.Float64) - expected).abs().max().item<double>();
                    Assert.True(error < 2e-5, $"{format} [{n}, {k}], m = {m}, {mode}: max error {error}");
                }
            }
        }
    }

    [Fact]
    public void Team_split_inside_a_scale_block_gives_the_same_rows()
    {
        // Rows [0, 60) and [60, 131) share the first 128-row scale block; both halves must scale their own copy of x.
        using var _ = no_grad();
        var (stored, scales, exact) = MakeWeight(WeightFormat.Fp8E4M3, 131, 300, seed: 9);
        using (stored) using (scales) using (exact)
        {
            var w = View(stored, scales, "w");
            using var x = randn([3, 300], generator: new Generator(10));
            using var whole = empty(3, 131);
            using var split = empty(3, 131);
            fixed (byte* xs = x.bytes)
            fixed (byte* a = whole.bytes)
            fixed (byte* b = split.bytes)
            {
                Gemv.MultiplyRange((float*)xs, 3, w, (float*)a, 0, 131);
                Gemv.MultiplyRange((float*)xs, 3, w, (float*)b, 0, 60);
                Gemv.MultiplyRange((float*)xs, 3, w, (float*)b, 60, 131);
            }
            Assert.True(whole.equal(split).all().item<bool>());
        }
    }

    [Theory]
    [InlineData(WeightFormat.F32)]
    [InlineData(WeightFormat.Bf16)]
    [InlineData(WeightFormat.Fp8E4M3)]
    public void Row_operations_match_the_dequantized_rows(WeightFormat format)
    {
        using var _ = no_grad();
        const int n = 140, k = 291;
        var (stored, scales, exact) = MakeWeight(format, n, k, seed: 11);
        using (stored) using (scales) using (exact)
        {
            var w = View(stored, scales, "w");
            var x = randn([k], generator: new Generator(12)).data<float>().ToArray();
            var xd = x.Select(v => (double)v).ToArray();
            var row = new float[k];
            var y = new float[k];
            foreach (int r in new[] { 0, 127, 128, 139 })
            {
                var exactRow = exact[r].data<double>().ToArray();
                fixed (float* xp = x, rp = row, yp = y)
                {
                    w.CopyRow(r, rp);
                    for (int j = 0; j < k; j++)                                           // a code times its scale: one fp32 rounding
                        Assert.True(Math.Abs(exactRow[j] - row[j]) <= Math.Abs(exactRow[j]) * 6e-8, $"row {r}, column {j}: {row[j]} vs {exactRow[j]}");
                    double dot = xd.Zip(exactRow, (a, b) => a * b).Sum();
                    Assert.Equal(dot, w.DotRow(xp, r), 1e-4);
                    Array.Copy(x, y, k);
                    w.AxpyRow(yp, 0.5f, r);
                    for (int j = 0; j < k; j++) Assert.Equal(xd[j] + 0.5 * exactRow[j], y[j], 1e-5);
                }
            }
        }
    }

    [Fact]
    public void Every_finite_fp8_code_widens_to_LibTorchs_value()
    {
        using var codes = zeros(256).to_type(Float8E4M3.TorchType);
        fixed (byte* p = codes.bytes)
            for (int i = 0; i < 256; i++) p[i] = (byte)i;
        var expected = codes.to(ScalarType.Float32).data<float>().ToArray();
        var widened = new float[256];
        fixed (byte* p = codes.bytes)
        fixed (float* d = widened)
            for (int i = 0; i < 256; i += 16) RowMath.LoadFp8(p + i).Store(d + i);
        for (int i = 0; i < 256; i++)
        {
            if ((i & 0x7F) == 0x7F) continue;   // NaN codes: documented as ±480 on this path; checkpoints hold none
            Assert.Equal(expected[i], widened[i]);
            Assert.Equal(expected[i], RowMath.Fp8ToFloat((byte)i));
            Assert.Equal(expected[i], RowMath.Fp8ToShifted((byte)i) * (double)RowMath.Fp8Rebias);
        }
    }

    [Theory]
    [InlineData(1f)]      // |x·S| < 2^7: the kernel reads codes as value·2^−120 and x carries the 2^120
    [InlineData(1e6f)]    // |x·S| up to ~1e7: that would overflow fp32, so the kernel keeps the rebias in the widening
    public void Fp8_product_is_exact_over_every_finite_code_at_any_activation_size(float size)
    {
        // Every finite code (subnormals, ±0 and ±448 included) in every row, scales from 2^-9 to 3, against LibTorch's
        // own fp8 cast and float64 products.
        using var _ = no_grad();
        const int n = 131, k = 260;
        var finite = Enumerable.Range(0, 256).Where(c => (c & 0x7F) != 0x7F).Select(c => (byte)c).ToArray();
        using var codes = zeros(n, k).to_type(Float8E4M3.TorchType);
        fixed (byte* p = codes.bytes)
            for (int r = 0; r < n; r++)
                for (int j = 0; j < k; j++) p[r * k + j] = finite[(r * 7 + j) % finite.Length];
        using var scales = tensor(new[] { 1f / 512, 0.75f, 3f, 0.01f, 1f, 1f / 64 }).reshape(2, 3);
        using var grid = scales.to(ScalarType.Float64).repeat_interleave(WeightMatrix.BlockSize, 0)
            .repeat_interleave(WeightMatrix.BlockSize, 1).narrow(0, 0, n).narrow(1, 0, k);
        using var exact = codes.to(ScalarType.Float64) * grid;
        var w = new WeightMatrix(codes, scales, "w");
        for (int m = 1; m <= Gemv.MaxRows; m += 5)
        {
            using var x = randn([m, k], generator: new Generator((ulong)m)) * size;
            using var expected = x.to(ScalarType.Float64).matmul(exact.t());
            using var magnitude = x.to(ScalarType.Float64).abs().matmul(exact.abs().t());
            using var y = full([m, n], float.NaN);
            fixed (byte* xs = x.bytes)
            fixed (byte* ys = y.bytes)
                Gemv.Multiply((float*)xs, m, w, (float*)ys);
            double error = ((y.to(ScalarType.Float64) - expected).abs() / magnitude).max().item<double>();
            Assert.True(error < 1e-6, $"m = {m}, x ~ {size}: max error {error} relative to Σ|x·w|");
        }
    }

    [Fact]
    public void Views_reject_missing_scales_and_wrong_grids()
    {
        using var w = zeros(130, 129).to_type(Float8E4M3.TorchType);
        using var wrong = ones(1, 2);
        var e = Assert.Throws<InvalidArgumentException>(() => new WeightMatrix(w, wrong, "layers.0.q_proj.weight"));
        Assert.Contains("layers.0.q_proj.weight", e.Message);
        Assert.Contains("[2, 2]", e.Message);
        Assert.Throws<InvalidArgumentException>(() => new WeightMatrix(w, "layers.0.q_proj.weight"));   // fp8 needs scales
        byte* codes = stackalloc byte[16];
        Assert.Throws<InvalidArgumentException>(() => new WeightMatrix(codes, null, 4, 4, WeightFormat.Fp8E4M3, "w"));
    }
}
