using DeepSeekV3.Precision;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Precision;

public class Float8E4M3Tests
{
    [Theory]
    // Worked by hand from the E4M3 layout: docs/reference-notes.md#e4m3-bytes.
    [InlineData(0x7E, 448f)]
    [InlineData(0xFE, -448f)]
    [InlineData(0x38, 1f)]
    [InlineData(0x08, 0.015625f)]
    [InlineData(0x01, 0.001953125f)]
    // By hand: 0x3A = e7 m2 = 1.25; 0x79 = e15 m1 = 1.125 · 2^8 = 288; 0x07 = 7/8 · 2^-6.
    [InlineData(0x3A, 1.25f)]
    [InlineData(0x79, 288f)]
    [InlineData(0x07, 0.013671875f)]
    public void Decode_matches_spec_vectors(int bits, float expected)
    {
        Assert.Equal(expected, Float8E4M3.Decode((byte)bits));
    }

    [Fact]
    public void Decode_gives_NaN_only_for_0x7F_and_0xFF()
    {
        for (int b = 0; b < 256; b++)
            Assert.Equal(b is 0x7F or 0xFF, float.IsNaN(Float8E4M3.Decode((byte)b)));
    }

    [Fact]
    public void Encode_inverts_Decode_for_every_non_NaN_code()
    {
        for (int b = 0; b < 256; b++)
        {
            if (b is 0x7F or 0xFF)
                continue;
            Assert.Equal((byte)b, Float8E4M3.Encode(Float8E4M3.Decode((byte)b)));
        }
    }

    [Theory]
    // Ties go to the even mantissa: 1.0625 is halfway 1.0 (m0) / 1.125 (m1); 1.1875 halfway m1 / m2.
    [InlineData(1.0625f, 0x38)]
    [InlineData(1.1875f, 0x3A)]
    [InlineData(-1.0625f, 0xB8)]
    // Just off a tie rounds to the nearer side.
    [InlineData(1.07f, 0x39)]
    // Subnormal ties: 2^-10 halfway 0 / 2^-9; 3·2^-10 halfway 2^-9 / 2·2^-9.
    [InlineData(0.0009765625f, 0x00)]
    [InlineData(0.0029296875f, 0x02)]
    // Largest subnormal rounding up into the first normal: 15·2^-10 halfway 7·2^-9 / 2^-6 → even code 0x08.
    [InlineData(0.0146484375f, 0x08)]
    // Saturation instead of NaN: 464 is halfway 448 / (NaN slot 480); beyond is clamped.
    [InlineData(464f, 0x7E)]
    [InlineData(1000f, 0x7E)]
    [InlineData(-1e9f, 0xFE)]
    [InlineData(float.PositiveInfinity, 0x7E)]
    [InlineData(float.NegativeInfinity, 0xFE)]
    [InlineData(float.NaN, 0x7F)]
    [InlineData(-0f, 0x80)]
    public void Encode_rounds_to_nearest_even_and_saturates(float value, int expected)
    {
        Assert.Equal((byte)expected, Float8E4M3.Encode(value));
    }

    [Fact]
    public void LibTorch_cast_agrees_with_Encode_within_range()
    {
        var gen = new Random(1234);
        var values = new List<float>();
        for (int i = 0; i < 4000; i++)
        {
            // Log-uniform magnitudes cover subnormals through 448.
            float magnitude = MathF.Pow(2f, (float)(gen.NextDouble() * 19 - 10));
            values.Add(Math.Min(magnitude, Float8E4M3.MaxValue) * (gen.Next(2) == 0 ? 1 : -1));
        }
        // Every midpoint between neighbouring codes: the cases where rounding modes differ.
        for (int b = 0; b < 0x7E; b++)
            values.Add((Float8E4M3.Decode((byte)b) + Float8E4M3.Decode((byte)(b + 1))) / 2);
        values.AddRange(new[] { 0f, -0f, 448f, -448f });

        using var source = tensor(values.ToArray());
        using var cast = source.to_type(Float8E4M3.TorchType);
        byte[] torchBytes = cast.bytes.ToArray();
        for (int i = 0; i < values.Count; i++)
            Assert.True(Float8E4M3.Encode(values[i]) == torchBytes[i],
                $"value {values[i]:R}: Encode 0x{Float8E4M3.Encode(values[i]):X2}, LibTorch 0x{torchBytes[i]:X2}");
    }
}
