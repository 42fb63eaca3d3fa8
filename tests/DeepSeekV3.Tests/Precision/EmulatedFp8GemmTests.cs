using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Precision;

public class EmulatedFp8GemmTests
{
    /// <summary>A [M, K] in 1×128 tiles and B [N, K] in 128×128 blocks (DeepGEMM's 1D2D), and the exact product of
    /// their dequantized values in float64: what a GEMM with an exact accumulator would return.</summary>
    private static (QuantizedMatrix A, QuantizedMatrix B, Tensor Exact) Operands(Tensor a, Tensor b)
    {
        var qa = TileQuantization.Quantize(a, 1, 128, Fp8Scaling.Float32Scales);
        var qb = TileQuantization.Quantize(b, 128, 128, Fp8Scaling.Float32Scales);
        var exact = qa.Dequantize().to_type(ScalarType.Float64).matmul(qb.Dequantize().to_type(ScalarType.Float64).t());
        return (qa, qb, exact);
    }

    private static double RelativeError(Tensor result, Tensor exact) =>
        ((result.to_type(ScalarType.Float64) - exact).norm() / exact.norm()).item<double>();

    [Fact]
    public void Exact_accumulator_reproduces_the_float64_product_of_the_dequantized_operands()
    {
        // K = 300 is not a multiple of 128 (a padded last group), N = 200 not a multiple of the 128-row blocks.
        using var scope = NewDisposeScope();
        var (a, b, exact) = Operands(randn(70, 300, generator: new Generator(1)), randn(200, 300, generator: new Generator(2)));
        var gemm = new EmulatedFp8Gemm(new Fp8Accumulation { AccumulatorBits = 24 });
        Assert.True(RelativeError(gemm.Multiply(a, b), exact) < 1e-6);
    }

    [Fact]
    public void Promotion_every_128_keeps_the_error_far_below_the_unpromoted_accumulator_at_K_4096()
    {
        // The report's experiment (§3.3.2): K = 4096, FP8 GEMM with a ~14-bit accumulator. Positive inputs (as in a
        // sum of squares), so truncation errors add up instead of cancelling.
        using var scope = NewDisposeScope();
        var (a, b, exact) = Operands(rand(32, 4096, generator: new Generator(3)), rand(48, 4096, generator: new Generator(4)));
        double promoted = RelativeError(new EmulatedFp8Gemm(Fp8Accumulation.Promoted).Multiply(a, b), exact);
        double unpromoted = RelativeError(new EmulatedFp8Gemm(Fp8Accumulation.WithoutPromotion).Multiply(a, b), exact);
        // Truncating after every 32-product instruction: ~0.3% without promotion, ~0.01% with it.
        Assert.True(unpromoted is > 1e-3 and < 1e-2, $"unpromoted {unpromoted}");
        Assert.True(promoted < 3e-4 && promoted * 10 < unpromoted, $"promoted {promoted}, unpromoted {unpromoted}");

        // Truncating every 4 products (the adder width Fasi et al. measured on earlier tensor cores) gives the
        // report's "nearly 2%"; promotion still brings it under 0.1%.
        double fine = RelativeError(new EmulatedFp8Gemm(new Fp8Accumulation { InstructionK = 4, PromotionInterval = 0 }).Multiply(a, b), exact);
        double finePromoted = RelativeError(new EmulatedFp8Gemm(new Fp8Accumulation { InstructionK = 4 }).Multiply(a, b), exact);
        Assert.True(fine is > 1e-2 and < 4e-2, $"unpromoted, 4 products per truncation: {fine}");
        Assert.True(finePromoted < 1e-3, $"promoted, 4 products per truncation: {finePromoted}");
    }

    [Fact]
    public void Quantized_gemm_meets_DeepGEMMs_criterion_against_the_unquantized_product()
    {
        // DeepGEMM tests/test_core.py: calc_diff = 1 − 2·Σxy / Σ(x² + y²) < 0.001 against the unquantized product.
        using var scope = NewDisposeScope();
        var x = randn(64, 1024, generator: new Generator(5));
        var y = randn(256, 1024, generator: new Generator(6));
        var (a, b, _) = Operands(x, y);
        var result = new EmulatedFp8Gemm().Multiply(a, b).to_type(ScalarType.Float64);
        var reference = x.to_type(ScalarType.Float64).matmul(y.to_type(ScalarType.Float64).t());
        double diff = 1 - 2 * (result * reference).sum().item<double>() / (result.square() + reference.square()).sum().item<double>();
        Assert.True(diff < 1e-3, $"calc_diff {diff}");
    }

    [Fact]
    public void Invalid_promotion_interval_is_refused_naming_the_rule()
    {
        var e = Assert.Throws<QuantizationException>(() => new EmulatedFp8Gemm(new Fp8Accumulation { PromotionInterval = 96 }));
        Assert.Contains("PromotionInterval", e.Message);
    }
}
