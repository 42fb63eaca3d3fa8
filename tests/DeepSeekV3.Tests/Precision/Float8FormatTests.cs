using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Precision;

public class Float8FormatTests
{
    public static TheoryData<string> Formats => new() { "E4M3", "E5M2" };

    private static Float8Format Of(string name) => name == "E4M3" ? Float8Format.E4M3 : Float8Format.E5M2;

    /// <summary>The value of a code straight from its bit fields (OCP FP8 spec, 2023; NVIDIA's FP8 paper, arXiv
    /// 2209.05433, Table 1), written independently of the codec: E4M3 has NaN only at S.1111.111 and no infinities;
    /// E5M2 is IEEE-like, S.11111.00 = ±∞ and S.11111.xx (xx ≠ 0) NaN.</summary>
    private static double Expected(string format, int code)
    {
        int e, m, bias, mantissaBits;
        if (format == "E4M3") { e = (code >> 3) & 0xF; m = code & 7; bias = 7; mantissaBits = 3; }
        else { e = (code >> 2) & 0x1F; m = code & 3; bias = 15; mantissaBits = 2; }
        double sign = (code & 0x80) != 0 ? -1 : 1;
        if (format == "E4M3" && e == 15 && m == 7) return double.NaN;
        if (format == "E5M2" && e == 31) return m == 0 ? sign * double.PositiveInfinity : double.NaN;
        double fraction = m / Math.Pow(2, mantissaBits);
        return sign * (e == 0 ? fraction * Math.Pow(2, 1 - bias) : (1 + fraction) * Math.Pow(2, e - bias));
    }

    [Theory, MemberData(nameof(Formats))]
    public void Every_code_decodes_to_the_value_of_its_bit_fields(string name)
    {
        for (int code = 0; code < 256; code++)
        {
            double expected = Expected(name, code);
            double actual = Of(name).Decode((byte)code);
            Assert.True(double.IsNaN(expected) ? double.IsNaN(actual) : expected == actual, $"{name} 0x{code:X2}: {actual} != {expected}");
        }
    }

    [Theory, MemberData(nameof(Formats))]
    public void Every_finite_code_encodes_back_to_itself(string name)
    {
        var format = Of(name);
        for (int code = 0; code < 256; code++)
            if (double.IsFinite(Expected(name, code)))
                Assert.Equal((byte)code, format.Encode(format.Decode((byte)code)));
    }

    [Theory, MemberData(nameof(Formats))]
    public void Midpoints_between_neighbouring_codes_round_to_the_even_code_and_nearby_values_to_the_nearer(string name)
    {
        var format = Of(name);
        // Positive finite codes in increasing order: 0x00 .. max; neighbours differ by one code.
        int max = format.Encode(format.MaxValue);
        for (int code = 0; code < max; code++)
        {
            double low = Expected(name, code), high = Expected(name, code + 1);
            float mid = (float)((low + high) / 2);                                          // exact in float32
            Assert.Equal((byte)(code % 2 == 0 ? code : code + 1), format.Encode(mid));
            Assert.Equal((byte)(code | 0x80), format.Encode(-(float)(low + (high - low) * 0.25)));
            Assert.Equal((byte)(code + 1), format.Encode((float)(low + (high - low) * 0.75)));
        }
    }

    [Theory]
    // Finite overflow and ±∞ saturate to ±max (0x7E/0xFE, 0x7B/0xFB); NaN stays NaN (0x7F); −0 keeps its sign.
    [InlineData("E4M3", 448f, 0x7E)]
    [InlineData("E4M3", 470f, 0x7E)]
    [InlineData("E4M3", 1e30f, 0x7E)]
    [InlineData("E4M3", float.NegativeInfinity, 0xFE)]
    [InlineData("E4M3", float.NaN, 0x7F)]
    [InlineData("E4M3", -0f, 0x80)]
    [InlineData("E5M2", 57344f, 0x7B)]
    [InlineData("E5M2", 61440f, 0x7B)]
    [InlineData("E5M2", 1e30f, 0x7B)]
    [InlineData("E5M2", float.PositiveInfinity, 0x7B)]
    [InlineData("E5M2", float.NegativeInfinity, 0xFB)]
    [InlineData("E5M2", float.NaN, 0x7F)]
    [InlineData("E5M2", -0f, 0x80)]
    // Subnormals: E5M2's smallest is 2^-16 (0x01), half of it a tie to 0; E4M3's 2^-9.
    [InlineData("E5M2", 1.52587890625e-5f, 0x01)]
    [InlineData("E5M2", 7.62939453125e-6f, 0x00)]
    [InlineData("E4M3", 0.001953125f, 0x01)]
    public void Encode_saturates_keeps_NaN_and_handles_subnormals(string name, float value, int expected)
    {
        Assert.Equal((byte)expected, Of(name).Encode(value));
    }

    [Fact]
    public void Max_values_are_448_and_57344()
    {
        Assert.Equal(448f, Float8Format.E4M3.MaxValue);
        Assert.Equal(57344f, Float8Format.E5M2.MaxValue);
    }

    [Theory, MemberData(nameof(Formats))]
    public void LibTorch_cast_agrees_with_Encode_within_range(string name)
    {
        var format = Of(name);
        var values = new List<float>();
        var random = new Random(5);
        for (int i = 0; i < 2000; i++)
            values.Add(MathF.Min(format.MaxValue, MathF.Pow(2f, (float)(random.NextDouble() * 36 - 18))) * (random.Next(2) == 0 ? 1 : -1));
        int max = format.Encode(format.MaxValue);
        for (int code = 0; code < max; code++)
            values.Add((format.Decode((byte)code) + format.Decode((byte)(code + 1))) / 2);
        using var cast = tensor(values.ToArray()).to_type(format.TorchType);
        byte[] bytes = cast.bytes.ToArray();
        for (int i = 0; i < values.Count; i++)
            Assert.True(format.Encode(values[i]) == bytes[i], $"{name} {values[i]:R}: Encode 0x{format.Encode(values[i]):X2}, LibTorch 0x{bytes[i]:X2}");
    }
}
