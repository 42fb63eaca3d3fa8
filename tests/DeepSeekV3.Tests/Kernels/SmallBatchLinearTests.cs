using System.Runtime.Intrinsics;
using DeepSeekV3.Kernels;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Kernels;

public class SmallBatchLinearTests
{
    [Theory]
    [InlineData(1, 64, 32)]
    [InlineData(3, 37, 13)]      // k not a multiple of 16, n not a multiple of the 4-column tile
    [InlineData(5, 200, 130)]
    [InlineData(16, 513, 1031)]
    [InlineData(2, 2048, 1103)]  // 9 MB of weights: split across threads
    public void Matches_torch_linear_in_fp32(int rows, int k, int n)
    {
        Assert.True(Vector512.IsHardwareAccelerated, "this machine class has AVX-512; the kernel must be exercised");
        using var _ = no_grad();
        using var x = randn([2, rows, k], generator: new Generator(1)).narrow(0, 0, 1);   // [1, rows, k]
        using var w = randn([n, k], generator: new Generator(2));
        Assert.True(SmallBatchLinear.Supports(x, w));
        using var expected = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64));
        using var actual = SmallBatchLinear.Forward(x, w);
        Assert.Equal(new long[] { 1, rows, n }, actual.shape);
        Assert.True(allclose(actual.to(ScalarType.Float64), expected, 1e-5, 1e-4),
            $"max diff {(actual.to(ScalarType.Float64) - expected).abs().max().item<double>()}");
    }

    [Fact]
    public void Bf16_weights_are_widened_exactly()
    {
        using var _ = no_grad();
        using var x = randn([4, 100], generator: new Generator(3));
        using var w = randn([50, 100], generator: new Generator(4)).to(ScalarType.BFloat16);
        // Reference: the same bf16 weights in fp64; fp32 activations, so only accumulation order differs.
        using var expected = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64));
        using var actual = SmallBatchLinear.Forward(x, w);
        Assert.Equal(ScalarType.Float32, actual.dtype);
        Assert.True(allclose(actual.to(ScalarType.Float64), expected, 1e-5, 1e-4));
    }

    [Fact]
    public void Declines_gradients_many_rows_and_mismatched_shapes()
    {
        using var w = randn(8, 16);
        using var x = randn(2, 16);
        Assert.False(SmallBatchLinear.Supports(x, w));                       // grad mode is on
        using var _ = no_grad();
        Assert.True(SmallBatchLinear.Supports(x, w));
        using var many = randn(SmallBatchLinear.MaxRows + 1, 16);
        Assert.False(SmallBatchLinear.Supports(many, w));
        using var wide = randn(2, 17);
        Assert.False(SmallBatchLinear.Supports(wide, w));
    }
}
