using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Precision;

public class E5M6FormatTests
{
    private static readonly int[] AllCodes = Enumerable.Range(0, E5M6Format.CodeCount).ToArray();

    private static bool IsNaNCode(int code) => ((code >> 6) & 0x1F) == 0x1F && (code & 0x3F) != 0;

    [Fact]
    public void Every_code_is_the_float16_with_the_same_sign_exponent_and_top_six_mantissa_bits()
    {
        // Independent reference: IEEE half precision (System.Half) has E5M6's sign, exponent and bias, and 4 more
        // mantissa bits; code c is the half whose bits are c << 4.
        foreach (int code in AllCodes)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)(code << 4));
            float actual = E5M6Format.Decode(code);
            if (IsNaNCode(code)) Assert.True(float.IsNaN(actual), $"code {code:X3}");
            else Assert.Equal(expected, actual);
        }
        Assert.Equal(65024f, E5M6Format.Decode(0x7BF));
        Assert.Equal(MathF.ScaleB(1, -20), E5M6Format.Decode(0x001));
        Assert.Equal(float.NegativeInfinity, E5M6Format.Decode(0xFC0));
    }

    [Fact]
    public void Encoding_a_decoded_code_gives_the_code_back()
    {
        foreach (int code in AllCodes.Where(c => !IsNaNCode(c)))
            Assert.Equal(code, E5M6Format.Encode(E5M6Format.Decode(code)));
        Assert.True(float.IsNaN(E5M6Format.Decode(E5M6Format.Encode(float.NaN))));
    }

    [Theory]
    [InlineData(1 + 1.0 / 128, 1.0)]                       // halfway between 1 and 1 + 2^-6: ties to the even 1
    [InlineData(1 + 3.0 / 128, 1 + 4.0 / 128)]             // halfway between 1 + 2^-6 (odd) and 1 + 2^-5 (even)
    [InlineData(1 + 1.0 / 128 + 1.0 / 1048576, 1 + 1.0 / 64)] // just past halfway rounds up
    [InlineData(-3.0, -3.0)]
    [InlineData(1.9921875 * 32768, 65024.0)]               // 2^16 − 2^8, exactly halfway to 2^16: saturates
    [InlineData(1e9, 65024.0)]
    [InlineData(-1e9, -65024.0)]
    [InlineData(1.0 / 2097152, 0.0)]                       // 2^-21: half the smallest subnormal, ties to 0
    [InlineData(3.0 / 2097152, 2.0 / 1048576)]             // 1.5 subnormal steps: ties to 2
    [InlineData(63.5 / 1048576, 1.0 / 16384)]              // 63.5 · 2^-20: ties to 64 · 2^-20 = 2^-14, the first normal
    public void Rounding_is_to_nearest_even_and_saturating(double input, double expected)
    {
        Assert.Equal((float)expected, E5M6Format.Decode(E5M6Format.Encode((float)input)));
        using var values = tensor(new[] { (float)input });
        using var rounded = E5M6Format.Round(values);
        Assert.Equal((float)expected, rounded.item<float>());
    }

    [Fact]
    public void Specials_infinities_and_NaN_are_kept_and_negative_zero_keeps_its_sign()
    {
        Assert.Equal(float.PositiveInfinity, E5M6Format.Decode(E5M6Format.Encode(float.PositiveInfinity)));
        Assert.Equal(float.NegativeInfinity, E5M6Format.Decode(E5M6Format.Encode(float.NegativeInfinity)));
        Assert.Equal(0x800, E5M6Format.Encode(-0f));
        using var x = tensor(new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN, -0f });
        using var rounded = E5M6Format.Round(x);
        var values = rounded.data<float>().ToArray();
        Assert.Equal(float.PositiveInfinity, values[0]);
        Assert.Equal(float.NegativeInfinity, values[1]);
        Assert.True(float.IsNaN(values[2]));
        Assert.True(float.IsNegative(values[3]) && values[3] == 0);
    }

    [Fact]
    public void Tensor_rounding_equals_the_scalar_codec_on_codes_midpoints_and_random_values()
    {
        using var scope = NewDisposeScope();
        var finite = AllCodes.Where(c => !IsNaNCode(c)).Select(E5M6Format.Decode).Where(float.IsFinite).Order().ToArray();
        var midpoints = finite.Zip(finite.Skip(1), (a, b) => a / 2 + b / 2);
        // Random magnitudes over 2^-24 .. 2^17 (below the subnormals to past the largest value), both signs.
        var random = new Random(5);
        var spread = Enumerable.Range(0, 4000).Select(_ => (random.Next(2) == 0 ? -1 : 1) * MathF.ScaleB(1 + random.NextSingle(), random.Next(-24, 17)));
        var inputs = finite.Concat(midpoints).Concat(spread).ToArray();
        var rounded = E5M6Format.Round(tensor(inputs)).data<float>().ToArray();
        for (int i = 0; i < inputs.Length; i++)
            Assert.Equal(E5M6Format.Decode(E5M6Format.Encode(inputs[i])), rounded[i]);
        var stored = E5M6Format.Store(tensor(inputs));
        Assert.Equal(ScalarType.Float16, stored.dtype);
        Assert.Equal(rounded, stored.to_type(ScalarType.Float32).data<float>().ToArray());   // float16 holds E5M6 exactly
    }

    [Fact]
    public void Relative_error_of_normal_values_is_at_most_half_a_step_of_six_mantissa_bits()
    {
        using var scope = NewDisposeScope();
        var x = (randn(10_000, generator: new Generator(3)) * 100).clamp_min(-60000).clamp_max(60000);
        x = where(x.abs() < E5M6Format.MinNormal, full_like(x, 1f), x);
        var relative = ((E5M6Format.Round(x) - x).abs() / x.abs()).max().item<float>();
        Assert.True(relative <= MathF.ScaleB(1, -7), $"{relative}");
    }
}
