using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Precision;

public class TileQuantizationTests
{
    /// <summary>Half an E4M3 step at |q|: normal codes have 3 mantissa bits (step 2^(e−3) ≤ |q|/8), subnormals 2^-9.</summary>
    private static Tensor HalfStep(Tensor q) => maximum(q.abs() / 16, full_like(q, 1.0 / 1024));

    [Theory]
    [InlineData(1, 128, false)]
    [InlineData(128, 128, false)]
    [InlineData(1, 128, true)]
    [InlineData(128, 128, true)]
    public void Round_trip_error_is_at_most_half_a_step_times_the_tile_scale(int tileRows, int tileColumns, bool powerOfTwo)
    {
        // Rows and columns not multiples of 128 (edge tiles); magnitudes spread over 6 decades between rows.
        using var scope = NewDisposeScope();
        var x = (randn(200, 300, generator: new Generator(3)) * pow(10.0, arange(200).unsqueeze(1) % 7 - 3)).to_type(ScalarType.Float32);
        var scaling = powerOfTwo ? Fp8Scaling.PowerOfTwoScales : Fp8Scaling.Float32Scales;
        using var q = TileQuantization.Quantize(x, tileRows, tileColumns, scaling);
        Assert.Equal(new long[] { (200 + tileRows - 1) / tileRows, 3 }, q.Scales.shape);
        var scales = q.Scales.repeat_interleave(tileRows, 0).repeat_interleave(tileColumns, 1).narrow(0, 0, 200).narrow(1, 0, 300);
        var codes = q.Codes.to_type(ScalarType.Float32);
        var error = (q.Dequantize() - x).abs();
        // (1 + 1e-5): x / scale and code · scale are float32 operations, each off by at most 2^-24 relative.
        Assert.True((error <= HalfStep(codes) * scales * (1 + 1e-5)).all().item<bool>(), $"max error / bound {(error / (HalfStep(codes) * scales)).max().item<float>()}");
        // The largest element of each tile maps to ±448 (FP32 scales) or into (224, 448] before rounding to E4M3, so
        // [224, 448] after it (power-of-2 scales).
        var tileMax = TileQuantization.Amax(codes, tileRows, tileColumns);
        if (powerOfTwo)
        {
            Assert.True((tileMax >= 224).all().item<bool>() && (tileMax <= 448).all().item<bool>());
            var (mantissa, _) = q.Scales.frexp();
            Assert.True(mantissa.eq(0.5).all().item<bool>(), "every scale is a power of two");
        }
        else
            Assert.True(tileMax.eq(448).all().item<bool>());
    }

    [Fact]
    public void Power_of_two_tile_of_the_reference_example_gives_its_codes()
    {
        // Worked example of the reference notes (parallel-fp8 §3.4): x_i = (i − 64)/8 over one 1×128 tile, amax 8,
        // UE8M0 scale 2^-5, q_i = E4M3(4·(i − 64)); i = 2 is a tie at −248 that goes to the even code −256.
        using var x = ((arange(128, dtype: ScalarType.Float32) - 64) / 8).unsqueeze(0);
        using var q = TileQuantization.Quantize(x, 1, 128, Fp8Scaling.PowerOfTwoScales);
        Assert.Equal(0.03125f, q.Scales.item<float>());
        byte[] codes = q.Codes.bytes.ToArray();
        Assert.Equal(new byte[] { 0xF8, 0xF8, 0xF8, 0xF7, 0xF7, 0xF7, 0xF6, 0xF6 }, codes[..8]);
        Assert.Equal(new byte[] { 0xD8, 0xD4, 0xD0, 0xC8, 0x00, 0x48, 0x50, 0x54 }, codes[60..68]);
        Assert.Equal(new byte[] { 0x77, 0x77, 0x78, 0x78 }, codes[124..]);
    }

    [Fact]
    public void Zero_tile_gets_the_floored_scale_and_zero_codes()
    {
        using var x = zeros(2, 128);
        using var q = TileQuantization.Quantize(x, 1, 128, Fp8Scaling.Float32Scales);
        Assert.All(q.Scales.data<float>().ToArray(), s => Assert.Equal(1e-4f / 448f, s));
        Assert.All(q.Codes.bytes.ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Square_blocks_transpose_exactly()
    {
        using var w = randn(256, 384, generator: new Generator(2));
        using var q = TileQuantization.Quantize(w, 128, 128, Fp8Scaling.Float32Scales);
        using var t = q.Transpose();
        using var expected = q.Dequantize().t();
        Assert.True(t.Dequantize().eq(expected).all().item<bool>());
        using var activation = TileQuantization.Quantize(w, 1, 128, Fp8Scaling.Float32Scales);
        Assert.Throws<QuantizationException>(() => activation.Transpose());
    }
}
