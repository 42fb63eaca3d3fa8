using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// The float8_e4m3fn format DeepSeek-V3 stores its Linear weights in (safetensors "F8_E4M3"):
/// 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits, no infinities, 0x7F/0xFF are NaN, max ±448.
/// </summary>
/// <remarks>
/// Two paths give the same bytes for values in range: <see cref="Encode"/>/<see cref="Decode"/> here (exact, scalar,
/// saturating) and LibTorch's cast to <see cref="TorchType"/> (vectorized, but NaN beyond ±448, so clamp first).
/// </remarks>
public static class Float8E4M3
{
    /// <summary>Largest finite magnitude, bit pattern 0x7E = (1 + 6/8) · 2^8.</summary>
    public const float MaxValue = 448f;

    /// <summary>LibTorch's Float8_e4m3fn; TorchSharp 0.107 has no named member for it, only the numeric code.</summary>
    public static readonly ScalarType TorchType = (ScalarType)24;

    private const int ExponentBias = 7;
    private const int MantissaBits = 3;

    // Every one of the 256 codes decoded once; exact because each value is a short binary fraction.
    private static readonly float[] DecodeTable = BuildDecodeTable();

    /// <summary>Exact value of an E4M3 code; 0x7F and 0xFF decode to NaN.</summary>
    public static float Decode(byte bits) => DecodeTable[bits];

    /// <summary>
    /// Nearest E4M3 code, ties to even mantissa. Magnitudes at or beyond 448 (including ±∞) saturate to ±448
    /// instead of becoming NaN, which is what a quantizer wants; NaN encodes as 0x7F. The sign of −0 is kept.
    /// </summary>
    public static byte Encode(float value)
    {
        if (float.IsNaN(value))
            return 0x7F;
        byte sign = float.IsNegative(value) ? (byte)0x80 : (byte)0;
        float magnitude = MathF.Abs(value);
        if (magnitude >= MaxValue)
            return (byte)(sign | 0x7E);

        const float minNormal = 1f / 64; // 2^(1 - bias)
        if (magnitude < minNormal)
        {
            // Subnormals are multiples of 2^-9; code = multiple (0..8), and 8 lands exactly on the first normal 0x08.
            return (byte)(sign | RoundHalfEven(MathF.ScaleB(magnitude, 9)));
        }

        // Normal: magnitude = q · 2^(E-3) with q in [8, 16); rounding q up to 16 carries into the exponent field,
        // which the plain addition below does for free. Below 448 the carry never reaches the NaN code 0x7F.
        int exponent = MathF.ILogB(magnitude);
        int q = RoundHalfEven(MathF.ScaleB(magnitude, MantissaBits - exponent));
        int code = ((exponent + ExponentBias) << MantissaBits) + q - (1 << MantissaBits);
        return (byte)(sign | code);
    }

    private static int RoundHalfEven(float x) => (int)Math.Round((double)x, MidpointRounding.ToEven);

    private static float[] BuildDecodeTable()
    {
        var table = new float[256];
        for (int bits = 0; bits < 256; bits++)
        {
            int exponent = (bits >> MantissaBits) & 0xF;
            int mantissa = bits & 0x7;
            float magnitude = exponent == 0
                ? MathF.ScaleB(mantissa / 8f, 1 - ExponentBias)
                : MathF.ScaleB(1f + mantissa / 8f, exponent - ExponentBias);
            if (exponent == 0xF && mantissa == 0x7)
                magnitude = float.NaN;
            table[bits] = (bits & 0x80) != 0 ? -magnitude : magnitude;
        }
        return table;
    }
}
