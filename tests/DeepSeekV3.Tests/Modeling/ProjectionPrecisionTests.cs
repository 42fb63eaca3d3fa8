using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

public class ProjectionPrecisionTests
{
    /// <summary>y = proj(x) and the gradients of Σ y·r (r a fixed random "upstream gradient") with respect to x and W.</summary>
    private static (Tensor Y, Tensor DX, Tensor DW) Run(Projection projection, Tensor input, Tensor upstream, WeightGradientQueue? queue = null)
    {
        projection.zero_grad();
        var x = input.detach().requires_grad_(true);
        var y = projection.forward(x);
        (y * upstream).sum().backward();
        queue?.RunAll();
        return (y.detach(), x.grad!.detach(), projection.Weight.grad!.detach().clone());
    }

    /// <summary>‖a − b‖ / ‖b‖.</summary>
    private static double Relative(Tensor a, Tensor b) => ((a - b).norm() / b.norm()).item<float>();

    private static (Projection Projection, Tensor X, Tensor Upstream) Case()
    {
        // in = 300 and out = 200 (partial 128-groups and blocks); [2, 70, in] so T = 140 tokens (a partial Wgrad group).
        var projection = new Projection(300, 200);
        using (no_grad()) projection.Weight.copy_(randn(200, 300, generator: new Generator(1)) * 0.05);
        var x = randn(2, 70, 300, generator: new Generator(2));
        // Activation-gradient outliers per token, the reason for 1×128 gradient tiles (report App. B.2).
        var upstream = randn(2, 70, 200, generator: new Generator(3)) * (1 + 20 * (arange(70) % 17 == 0).to_type(ScalarType.Float32).view(1, 70, 1));
        return (projection, x, upstream);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void Fp8_projection_output_and_gradients_are_close_to_float32(bool powerOfTwoInput, bool powerOfTwoGradient)
    {
        using var scope = NewDisposeScope();
        var (projection, x, upstream) = Case();
        var (y32, dx32, dw32) = Run(projection, x, upstream);
        projection.Gemms = new Fp8LinearGemms(Fp8Recipe.Report, powerOfTwoInput, powerOfTwoGradient);
        var (y8, dx8, dw8) = Run(projection, x, upstream);
        // E4M3 keeps 3 mantissa bits: ~2-3% per element, averaging down over K; the bounds are a few times what we see.
        Assert.True(Relative(y8, y32) < 0.05, $"y {Relative(y8, y32)}");
        Assert.True(Relative(dx8, dx32) < 0.05, $"dx {Relative(dx8, dx32)}");
        Assert.True(Relative(dw8, dw32) < 0.05, $"dW {Relative(dw8, dw32)}");
        Assert.Equal(ScalarType.Float32, projection.Weight.grad!.dtype);
    }

    [Fact]
    public void BFloat16_projection_equals_a_linear_of_bfloat16_rounded_operands()
    {
        using var scope = NewDisposeScope();
        var (projection, x, upstream) = Case();
        projection.Gemms = BFloat16Gemms.Instance;
        var (y, dx, dw) = Run(projection, x, upstream);
        var expected = nn.functional.linear(x.to_type(ScalarType.BFloat16), projection.Weight.to_type(ScalarType.BFloat16)).to_type(ScalarType.Float32);
        Assert.True(y.eq(expected).all().item<bool>());
        projection.Gemms = null;
        var (_, dx32, dw32) = Run(projection, x, upstream);
        Assert.True(Relative(dx, dx32) < 1e-2 && Relative(dw, dw32) < 1e-2);
    }

    [Fact]
    public void Deferred_fp8_weight_gradient_equals_the_immediate_one()
    {
        using var scope = NewDisposeScope();
        var (projection, x, upstream) = Case();
        projection.Gemms = new Fp8LinearGemms(Fp8Recipe.Report);
        var (_, dxNow, dwNow) = Run(projection, x, upstream);
        var queue = new WeightGradientQueue { Deferring = true };
        projection.WeightGradients = queue;
        projection.zero_grad();
        var input = x.detach().requires_grad_(true);
        (projection.forward(input) * upstream).sum().backward();
        Assert.Null(projection.Weight.grad);                                               // left for the W step
        queue.Seal();
        queue.RunAll();
        Assert.True(input.grad!.eq(dxNow).all().item<bool>());
        Assert.True(projection.Weight.grad!.eq(dwNow).all().item<bool>());
    }
}
