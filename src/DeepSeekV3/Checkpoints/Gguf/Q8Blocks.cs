using System.Buffers.Binary;

namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// ggml's Q8_0: consecutive runs of 32 values along a row, each stored as an F16 scale d = max|x| / 127 followed by
/// 32 signed bytes q = round(x / d), so x ≈ d·q. As ggml's reference quantizer (<c>quantize_row_q8_0_ref</c>), the
/// bytes come from the unrounded d (q = round(x · (1/d)), ties away from zero) and only then is d stored as F16; an
/// all-zero block stores d = 0.
/// </summary>
public static class Q8Blocks
{
    public const int BlockSize = 32;
    public const int BlockBytes = 2 + BlockSize;

    /// <summary>Quantizes <paramref name="values"/> (a whole number of blocks) into <paramref name="destination"/>.</summary>
    public static void Quantize(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (values.Length % BlockSize != 0)
            throw new ArgumentException($"{values.Length} values are not whole blocks of {BlockSize}", nameof(values));
        for (int b = 0; b < values.Length / BlockSize; b++)
        {
            var block = values.Slice(b * BlockSize, BlockSize);
            var output = destination.Slice(b * BlockBytes, BlockBytes);
            float amax = 0;
            foreach (float x in block) amax = Math.Max(amax, Math.Abs(x));
            float d = amax / 127, inverse = d != 0 ? 1 / d : 0;
            BinaryPrimitives.WriteHalfLittleEndian(output, (Half)d);
            for (int i = 0; i < BlockSize; i++)
                output[2 + i] = (byte)(sbyte)MathF.Round(block[i] * inverse, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>The values <paramref name="blocks"/> stand for: d·q, d as stored (F16).</summary>
    public static float[] Dequantize(ReadOnlySpan<byte> blocks)
    {
        if (blocks.Length % BlockBytes != 0)
            throw new ArgumentException($"{blocks.Length} bytes are not whole Q8_0 blocks of {BlockBytes}", nameof(blocks));
        var values = new float[blocks.Length / BlockBytes * BlockSize];
        for (int b = 0; b < blocks.Length / BlockBytes; b++)
        {
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            for (int i = 0; i < BlockSize; i++)
                values[b * BlockSize + i] = d * (sbyte)block[2 + i];
        }
        return values;
    }
}
