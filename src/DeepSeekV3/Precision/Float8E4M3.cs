using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// The float8_e4m3fn format DeepSeek-V3 stores its Linear weights in (safetensors "F8_E4M3"):
/// 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits, no infinities, 0x7F/0xFF are NaN, max ±448.
/// A shorthand for <see cref="Float8Format.E4M3"/>, which defines the codec.
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
    public static ScalarType TorchType => Float8Format.E4M3.TorchType;

    /// <summary>Exact value of an E4M3 code; 0x7F and 0xFF decode to NaN.</summary>
    public static float Decode(byte bits) => Float8Format.E4M3.Decode(bits);

    /// <summary>
    /// Nearest E4M3 code, ties to even mantissa. Magnitudes at or beyond 448 (including ±∞) saturate to ±448
    /// instead of becoming NaN, which is what a quantizer wants; NaN encodes as 0x7F. The sign of −0 is kept.
    /// </summary>
    public static byte Encode(float value) => Float8Format.E4M3.Encode(value);
}
