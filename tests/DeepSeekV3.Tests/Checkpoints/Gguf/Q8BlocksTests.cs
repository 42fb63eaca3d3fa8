using System.Buffers.Binary;
using DeepSeekV3.Checkpoints.Gguf;

namespace DeepSeekV3.Tests.Checkpoints.Gguf;

/// <summary>ggml's Q8_0 block, computed by hand from its definition (quantize_row_q8_0_ref).</summary>
public sealed class Q8BlocksTests
{
    [Fact]
    public void A_block_with_max_127_has_scale_1_and_rounds_halves_away_from_zero()
    {
        float[] values = new float[32];
        values[0] = 127;                                           // d = 127 / 127 = 1: q = round(x)
        values[1] = 2.5f;                                          // → 3 (away from zero, as C's roundf)
        values[2] = -2.5f;                                         // → −3
        values[3] = 0.49f;                                         // → 0
        values[4] = -127;                                          // → −127
        byte[] block = new byte[Q8Blocks.BlockBytes];
        Q8Blocks.Quantize(values, block);
        Assert.Equal((Half)1, BinaryPrimitives.ReadHalfLittleEndian(block));
        Assert.Equal(new sbyte[] { 127, 3, -3, 0, -127 }, block.Skip(2).Take(5).Select(b => (sbyte)b));
        Assert.All(block.Skip(7), b => Assert.Equal(0, b));
        Assert.Equal(new float[] { 127, 3, -3, 0, -127 }, Q8Blocks.Dequantize(block).Take(5));
    }

    [Fact]
    public void The_bytes_come_from_the_unrounded_scale_and_the_stored_scale_is_its_half()
    {
        // max |x| = 1: d = 1/127, whose F16 is 0.007873535 (not 1/127 = 0.007874016). x = 63.49995/127 gives
        // x/d = 63.49995 → 63 with the unrounded d, but x/f16(d) = 63.5030 → 64: the reference quantizes with the former.
        float[] values = new float[32];
        values[0] = 1;
        values[1] = 63.49995f / 127;
        values[2] = -1;
        byte[] block = new byte[Q8Blocks.BlockBytes];
        Q8Blocks.Quantize(values, block);
        Half d = BinaryPrimitives.ReadHalfLittleEndian(block);
        Assert.Equal((Half)(1f / 127), d);
        Assert.Equal(new sbyte[] { 127, 63, -127 }, block.Skip(2).Take(3).Select(b => (sbyte)b));
        Assert.Equal((float)d * 63, Q8Blocks.Dequantize(block)[1]);
    }

    [Fact]
    public void An_all_zero_block_stores_scale_0_and_partial_blocks_are_refused()
    {
        byte[] block = new byte[Q8Blocks.BlockBytes];
        Array.Fill(block, (byte)0xFF);
        Q8Blocks.Quantize(new float[32], block);
        Assert.All(block, b => Assert.Equal(0, b));
        Assert.Throws<ArgumentException>(() => Q8Blocks.Quantize(new float[33], new byte[68]));
        Assert.Throws<ArgumentException>(() => GgufTensorType.Q8_0.ByteLength(48));
        Assert.Equal(2 * 34, GgufTensorType.Q8_0.ByteLength(64));
    }
}
