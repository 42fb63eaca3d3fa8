using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// The report's customized E5M6 format (§3.3.3 "Low-Precision Storage and Communication"), in which DeepSeek-V3
/// caches the input of the Linear after attention (o_proj) for backward: 1 sign, 5 exponent and 6 mantissa bits, 12
/// bits. The report gives only the bit split; we take IEEE half precision's layout with the mantissa cut to 6 bits:
/// bias 15, subnormals m·2^−20 below 2^−14, largest finite (2 − 2^−6)·2^15 = 65024, exponent field 31 for ±∞ (mantissa
/// 0) and NaN. Every E5M6 value is therefore exactly a float16 (same exponent range, more mantissa bits), which is how
/// tensors store it here: 2 bytes per element in a float16 container (a packed layout would take 1.5).
/// </summary>
/// <remarks>Encoding rounds to nearest, ties to even; finite magnitudes past 65024 saturate to ±65024 like our FP8
/// codecs (a cache must not turn a large activation into ∞), ±∞ stays ±∞ (the format has it) and NaN stays NaN, so an
/// overflow upstream still shows.</remarks>
public static class E5M6Format
{
    public const int ExponentBits = 5;
    public const int MantissaBits = 6;
    public const int Bias = 15;

    /// <summary>Number of codes (12 bits).</summary>
    public const int CodeCount = 1 << 12;

    /// <summary>(2 − 2^−6) · 2^15.</summary>
    public const float MaxValue = 65024f;

    // The rounding's bounds as LibTorch scalars (Modeling.Scalars says why they are made once).
    private static readonly Scalar SmallestExponent = (2 - Bias).ToScalar(), Lowest = (-MaxValue).ToScalar(), Largest = MaxValue.ToScalar();

    /// <summary>2^−14: below it the exponent field is 0 and the spacing is a constant 2^−20.</summary>
    public static float MinNormal { get; } = MathF.ScaleB(1f, 1 - Bias);

    private const int SignBit = 1 << 11;
    private const int ExponentMask = (1 << ExponentBits) - 1, MantissaMask = (1 << MantissaBits) - 1;

    /// <summary>Exact value of a 12-bit code.</summary>
    public static float Decode(int code)
    {
        if (code is < 0 or >= CodeCount)
            throw new QuantizationException($"E5M6: code {code} is not a 12-bit code (0..{CodeCount - 1})");
        int exponent = (code >> MantissaBits) & ExponentMask, mantissa = code & MantissaMask;
        float magnitude = exponent switch
        {
            0 => MathF.ScaleB(mantissa, 1 - Bias - MantissaBits),
            ExponentMask => mantissa == 0 ? float.PositiveInfinity : float.NaN,
            _ => MathF.ScaleB(1f + (float)mantissa / (1 << MantissaBits), exponent - Bias),
        };
        return (code & SignBit) != 0 ? -magnitude : magnitude;
    }

    /// <summary>The nearest code, ties to even, saturating and NaN/∞-preserving as the remarks say; −0 keeps its sign.</summary>
    public static int Encode(float value)
    {
        int sign = float.IsNegative(value) ? SignBit : 0;
        if (float.IsNaN(value)) return SignBit - 1;                                          // 0.11111.111111
        if (float.IsInfinity(value)) return sign | (ExponentMask << MantissaBits);
        float magnitude = Math.Min(MathF.Abs(value), MaxValue);
        // The step between neighbours is 2^(e − 6) for magnitudes in [2^e, 2^(e+1)), and 2^−20 below 2^−14; the
        // multiple q of that step, rounded, gives the code by plain addition (a carry into the exponent is correct).
        int exponent = magnitude < MinNormal ? 1 - Bias : MathF.ILogB(magnitude);
        int q = (int)Math.Round((double)MathF.ScaleB(magnitude, MantissaBits - exponent), MidpointRounding.ToEven);
        int code = magnitude < MinNormal ? q : ((exponent + Bias) << MantissaBits) + q - (1 << MantissaBits);
        return sign | code;
    }

    /// <summary>
    /// x rounded to the nearest E5M6 value (same rules as <see cref="Encode"/>), as a new float32 tensor. frexp gives
    /// x = m·2^e with |m| in [0.5, 1); the grid step there is 2^(e−7), and 2^−20 once e &lt; −13 (subnormals); all the
    /// scalings are by powers of two, so only the one rounding happens.
    /// </summary>
    public static Tensor Round(Tensor x)
    {
        using var scope = NewDisposeScope();
        var values = x.to_type(ScalarType.Float32);
        var (_, exponent) = values.frexp();
        var step = exponent.clamp_min(SmallestExponent) - (MantissaBits + 1);                         // log2 of the grid step
        var rounded = values.ldexp(-step).round().ldexp(step).clamp(Lowest, Largest);
        var special = values.isinf().logical_or(values.isnan());
        return where(special, values, rounded).MoveToOuterDisposeScope();
    }

    /// <summary>x rounded to E5M6 and stored in a float16 container (exact: every E5M6 value is a float16); a new tensor.</summary>
    public static Tensor Store(Tensor x)
    {
        using var rounded = Round(x);
        return rounded.to_type(ScalarType.Float16);
    }
}
