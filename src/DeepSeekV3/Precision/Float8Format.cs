using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// An 8-bit float format, 1 sign bit, E exponent bits, M mantissa bits: <see cref="E4M3"/> (<c>float8_e4m3fn</c>,
/// what DeepSeek-V3 uses for every tensor, report §3.3.2 "Mantissa over Exponents") and <see cref="E5M2"/>
/// (<c>float8_e5m2</c>, the wider-range format earlier FP8 recipes used for gradients). Values: subnormal
/// m·2^(1−bias−M) when the exponent field is 0, normal (1 + m/2^M)·2^(e−bias) otherwise.
/// </summary>
/// <remarks>
/// <para>Encoding rounds to nearest, ties to even mantissa, and saturates: any magnitude at or beyond the largest
/// finite value — including ±∞ — becomes ±max (448 / 57344), as CUDA's <c>__NV_SATFINITE</c> conversions do. A
/// quantizer divides by amax/448, so only float rounding (448.00003) ever reaches past the grid, and E4M3 has no
/// infinity to map ±∞ to; E5M2 does the same so the two behave alike. An overflow in training is not hidden by
/// this: an infinite element makes its tile's amax and scale infinite, and the dequantized tile NaN.</para>
/// <para>NaN encodes as 0x7F (or 0xFF with the sign), a NaN pattern in both formats, so a NaN stays NaN.
/// E4M3 ("fn": finite, NaN only at S.1111.111) has no infinities; E5M2 follows IEEE: S.11111.00 is ±∞ and
/// S.11111.xx with xx ≠ 0 NaN.</para>
/// </remarks>
public sealed class Float8Format
{
    /// <summary>float8_e4m3fn: bias 7, max 448 (0x7E), min subnormal 2^−9; LibTorch scalar type 24.</summary>
    public static Float8Format E4M3 { get; } = new("E4M3", exponentBits: 4, mantissaBits: 3, ieeeSpecials: false, (ScalarType)24);

    /// <summary>float8_e5m2: bias 15, max 57344 (0x7B), min subnormal 2^−16, ±∞ at 0x7C/0xFC; LibTorch scalar type 23.</summary>
    public static Float8Format E5M2 { get; } = new("E5M2", exponentBits: 5, mantissaBits: 2, ieeeSpecials: true, (ScalarType)23);

    private readonly float[] _decode;
    private readonly float _minNormal;

    private Float8Format(string name, int exponentBits, int mantissaBits, bool ieeeSpecials, ScalarType torchType)
    {
        Name = name;
        ExponentBits = exponentBits;
        MantissaBits = mantissaBits;
        Bias = (1 << (exponentBits - 1)) - 1;
        HasInfinity = ieeeSpecials;
        TorchType = torchType;
        _decode = BuildDecodeTable();
        _minNormal = MathF.ScaleB(1f, 1 - Bias);
        MaxValue = _decode.Where(float.IsFinite).Max();
    }

    public string Name { get; }
    public int ExponentBits { get; }
    public int MantissaBits { get; }
    public int Bias { get; }
    public bool HasInfinity { get; }

    /// <summary>Largest finite magnitude: 448 for E4M3, 57344 for E5M2.</summary>
    public float MaxValue { get; }

    /// <summary>LibTorch's dtype for the format (TorchSharp 0.107 names neither, only the numeric codes).</summary>
    public ScalarType TorchType { get; }

    /// <summary>Exact value of a code (NaN and ±∞ as the format defines them).</summary>
    public float Decode(byte bits) => _decode[bits];

    /// <summary>Nearest code, ties to even; saturating and NaN-preserving as the type's remarks say. −0 keeps its sign.</summary>
    public byte Encode(float value)
    {
        if (float.IsNaN(value))
            return 0x7F;
        byte sign = float.IsNegative(value) ? (byte)0x80 : (byte)0;
        float magnitude = MathF.Abs(value);
        if (magnitude >= MaxValue)
            return (byte)(sign | MaxCode);

        if (magnitude < _minNormal)
        {
            // Subnormals are multiples of 2^(1−bias−M); the multiple 2^M lands exactly on the first normal code.
            return (byte)(sign | RoundHalfEven(MathF.ScaleB(magnitude, Bias - 1 + MantissaBits)));
        }

        // Normal: magnitude = q · 2^(E−M) with q in [2^M, 2^(M+1)); rounding q up to 2^(M+1) carries into the
        // exponent field, which the plain addition does for free. Below MaxValue the carry never reaches ∞/NaN.
        int exponent = MathF.ILogB(magnitude);
        int q = RoundHalfEven(MathF.ScaleB(magnitude, MantissaBits - exponent));
        int code = ((exponent + Bias) << MantissaBits) + q - (1 << MantissaBits);
        return (byte)(sign | code);
    }

    public override string ToString() => Name;

    private byte MaxCode => (byte)Array.IndexOf(_decode, MaxValue);

    private static int RoundHalfEven(float x) => (int)Math.Round((double)x, MidpointRounding.ToEven);

    private float[] BuildDecodeTable()
    {
        var table = new float[256];
        int exponentMask = (1 << ExponentBits) - 1, mantissaMask = (1 << MantissaBits) - 1;
        for (int bits = 0; bits < 256; bits++)
        {
            int exponent = (bits >> MantissaBits) & exponentMask;
            int mantissa = bits & mantissaMask;
            float fraction = (float)mantissa / (1 << MantissaBits);
            float magnitude = exponent == 0
                ? MathF.ScaleB(fraction, 1 - Bias)
                : MathF.ScaleB(1f + fraction, exponent - Bias);
            if (exponent == exponentMask && (HasInfinity || mantissa == mantissaMask))
                magnitude = HasInfinity && mantissa == 0 ? float.PositiveInfinity : float.NaN;
            table[bits] = (bits & 0x80) != 0 ? -magnitude : magnitude;
        }
        return table;
    }
}
