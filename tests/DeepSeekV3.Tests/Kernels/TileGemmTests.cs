using DeepSeekV3.Kernels;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Kernels;

/// <summary>
/// The prefill GEMM on every <see cref="WeightFormat"/> and <see cref="GemmPrecision"/> against the dequantized
/// product in float64 (LibTorch's own casts, <see cref="GemvFormatTests.MakeWeight"/>). Shapes are odd: rows of x
/// not a multiple of 16, weights with several tiles whose edges fall inside FP8 scale blocks, partial scale blocks and
/// column tails.
/// </summary>
public unsafe class TileGemmTests
{
    /// <summary>Max |y − exact| / max |exact|: bf16 rounds x, the weight tile and y to 8 mantissa bits (2⁻⁹ relative
    /// each), fp32 only reorders sums.</summary>
    private static double Tolerance(GemmPrecision precision) => precision == GemmPrecision.Bf16 ? 1e-2 : 1e-5;

    public static TheoryData<WeightFormat, GemmPrecision, int, int> Shapes()
    {
        var data = new TheoryData<WeightFormat, GemmPrecision, int, int>();
        foreach (var format in Enum.GetValues<WeightFormat>())
            foreach (var precision in Enum.GetValues<GemmPrecision>())
            {
                data.Add(format, precision, 131, 259);   // 3-row / 3-column edge blocks, one tile
                data.Add(format, precision, 300, 2051);  // 3 (bf16) or 7 (fp32) tiles, tile edges inside scale blocks
            }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Multiply_matches_the_dequantized_product(WeightFormat format, GemmPrecision precision, int n, int k)
    {
        using var _ = no_grad();
        using var team = new WorkerTeam(2);
        Assert.True(n > new TileGemm(precision).TileRows(k) || k < 1000, "the large shape must span several tiles");
        var (stored, scales, exact) = GemvFormatTests.MakeWeight(format, n, k, seed: 3);
        using (stored) using (scales) using (exact)
        {
            var w = GemvFormatTests.View(stored, scales, "w");
            const int m = 37;
            using var x = randn([m, k], generator: new Generator(4));
            using var expected = x.to(ScalarType.Float64).matmul(exact.t());
            // Alone (LibTorch's threads), and with the tiles shared by a team of two.
            foreach (var gemm in new[] { new TileGemm(precision), new TileGemm(precision, team) })
            {
                using var y = full([m, n], float.NaN);
                fixed (byte* xs = x.bytes)
                fixed (byte* ys = y.bytes)
                    gemm.Multiply((float*)xs, m, w, (float*)ys);
                AssertClose(y, expected, precision, $"{format} [{n}, {k}] in {precision}");
            }
        }
    }

    [Theory]
    [InlineData(WeightFormat.Fp8E4M3, GemmPrecision.Bf16)]
    [InlineData(WeightFormat.Fp8E4M3, GemmPrecision.F32)]
    [InlineData(WeightFormat.Bf16, GemmPrecision.Bf16)]
    [InlineData(WeightFormat.F32, GemmPrecision.F32)]
    public void Row_slices_multiply_either_way_with_strided_rows(WeightFormat format, GemmPrecision precision)
    {
        using var _ = no_grad();
        var gemm = new TileGemm(precision);
        const int n = 260, k = 203, m = 19, first = 70, count = 100;   // rows 70..169 cross the scale block edge at 128
        var (stored, scales, exact) = GemvFormatTests.MakeWeight(format, n, k, seed: 5);
        using (stored) using (scales) using (exact)
        {
            var w = GemvFormatTests.View(stored, scales, "w");
            using var slice = exact.narrow(0, first, count);
            // y[:, 3 .. 3 + count) of a [m, count + 5] buffer = x[:, 0 .. k) of a [m, k + 9] buffer · slice ᵀ
            using var wide = randn([m, k + 9], generator: new Generator(6));
            using var y = full([m, count + 5], float.NaN);
            fixed (byte* xs = wide.bytes)
            fixed (byte* ys = y.bytes)
                gemm.MultiplyRows((float*)xs, m, k + 9, w, first, count, (float*)ys + 3, count + 5);
            using var expected = wide.narrow(1, 0, k).to(ScalarType.Float64).matmul(slice.t());
            AssertClose(y.narrow(1, 3, count), expected, precision, $"{format} rows × slice ᵀ");

            // z[:, 0 .. k) of a [m, k + 2] buffer = x[:, 0 .. count) of a [m, count + 7] buffer · slice
            using var narrowX = randn([m, count + 7], generator: new Generator(8));
            using var z = full([m, k + 2], float.NaN);
            fixed (byte* xs = narrowX.bytes)
            fixed (byte* zs = z.bytes)
                gemm.MultiplyByRows((float*)xs, m, count + 7, w, first, count, (float*)zs, k + 2);
            using var expectedZ = narrowX.narrow(1, 0, count).to(ScalarType.Float64).matmul(slice);
            AssertClose(z.narrow(1, 0, k), expectedZ, precision, $"{format} rows × slice");
        }
    }

    [Fact]
    public void LibTorchs_OpenMP_is_found_on_Linux_so_a_team_shares_the_tiles()
    {
        using var warm = ones(1);                                     // LibTorch (and its libgomp) loaded
        if (OperatingSystem.IsLinux()) Assert.NotNull(OpenMpThreads.Find());
    }

    [Fact]
    public void Rows_outside_the_weight_are_refused()
    {
        using var w = zeros(10, 20);
        var view = new WeightMatrix(w, "w");
        var gemm = new TileGemm(GemmPrecision.F32);
        var x = new float[20];
        var y = new float[10];
        var error = Assert.Throws<InvalidArgumentException>(() =>
        {
            fixed (float* xs = x)
            fixed (float* ys = y)
                gemm.MultiplyRows(xs, 1, 20, view, 5, 6, ys, 10);
        });
        Assert.Contains("[5, 11)", error.Message);
    }

    private static void AssertClose(Tensor y, Tensor expected, GemmPrecision precision, string what)
    {
        double scale = expected.abs().max().item<double>();
        double error = (y.to(ScalarType.Float64) - expected).abs().max().item<double>() / scale;
        Assert.True(error <= Tolerance(precision), $"{what}: max relative error {error:E2} > {Tolerance(precision):E0}");
    }
}
