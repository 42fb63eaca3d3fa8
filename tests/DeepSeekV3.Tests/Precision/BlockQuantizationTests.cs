using DeepSeekV3.Precision;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Precision;

public class BlockQuantizationTests
{
    [Fact]
    public void Hand_computed_2x2_blocks_give_expected_scales_codes_and_values()
    {
        // Weight [2, 3], block 2 → grid [1, 2]. Block (0,0) = {1, -2, 3.5, 0.5} amax 3.5 → scale 3.5/448 = 1/128;
        // block (0,1) = {7, 0} (a partial column block) amax 7 → scale 1/64.
        using var w = tensor(new float[] { 1f, -2f, 7f, 3.5f, 0.5f, 0f }).reshape(2, 3);
        var (q, s) = BlockQuantization.QuantizeWeight(w, blockSize: 2);
        using (q)
        using (s)
        {
            Assert.Equal(new long[] { 1, 2 }, s.shape);
            Assert.Equal(new[] { 1f / 128, 1f / 64 }, s.data<float>().ToArray());
            // w / scale = {128, -256, 448, 448, 64, 0}; all exactly representable in E4M3.
            byte[] expected = new[] { 128f, -256f, 448f, 448f, 64f, 0f }.Select(Float8E4M3.Encode).ToArray();
            Assert.Equal(expected, q.bytes.ToArray());
            using var back = BlockQuantization.DequantizeWeight(q, s, ScalarType.Float32, blockSize: 2);
            Assert.Equal(new float[] { 1f, -2f, 7f, 3.5f, 0.5f, 0f }, back.data<float>().ToArray());
        }
    }

    [Fact]
    public void Edge_blocks_of_130x260_weight_use_their_own_scales()
    {
        // Each block's entries are its block index (r·3 + c + 1) times a pattern; the partial blocks (row block 1,
        // column block 2) hold very different magnitudes so a wrongly shared scale would show.
        using var rowBlock = (arange(130) / 128).unsqueeze(1);      // [130, 1]
        using var colBlock = (arange(260) / 128).unsqueeze(0);      // [1, 260]
        using var blockId = rowBlock * 3 + colBlock + 1;            // [130, 260] values 1..6
        using var magnitude = pow(10.0, blockId - 3).to_type(ScalarType.Float32);
        using var pattern = rand(130, 260, generator: new Generator(7)) - 0.5;
        using var w = magnitude * pattern;

        var (q, s) = BlockQuantization.QuantizeWeight(w);
        using (q)
        using (s)
        {
            Assert.Equal(new long[] { 130, 260 }, q.shape);
            Assert.Equal(Float8E4M3.TorchType, q.dtype);
            Assert.Equal(new long[] { 2, 3 }, s.shape);
            // Scale of each block is that block's own amax / 448.
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 3; c++)
                {
                    using var block = w.narrow(0, r * 128, Math.Min(128, 130 - r * 128))
                        .narrow(1, c * 128, Math.Min(128, 260 - c * 128));
                    float amax = block.abs().max().item<float>();
                    Assert.Equal(amax / 448f, s[r, c].item<float>(), 6);
                }
            using var back = BlockQuantization.DequantizeWeight(q, s, ScalarType.Float32);
            AssertWithinE4M3Error(w, back, s);
        }
    }

    [Fact]
    public void Dequantized_weight_is_within_E4M3_relative_error_of_block_max()
    {
        using var w = randn(300, 200, generator: new Generator(11)) * 0.02;
        var (q, s) = BlockQuantization.QuantizeWeight(w);
        using (q)
        using (s)
        {
            using var back = BlockQuantization.DequantizeWeight(q, s, ScalarType.Float32);
            AssertWithinE4M3Error(w, back, s);
            // Reference flow: float32 product rounded once to bf16.
            using var bf16 = BlockQuantization.DequantizeWeight(q, s, ScalarType.BFloat16);
            using var expected = back.to_type(ScalarType.BFloat16);
            Assert.Equal(ScalarType.BFloat16, bf16.dtype);
            Assert.True(bf16.eq(expected).all().item<bool>());
        }
    }

    [Fact]
    public void All_zero_block_gets_scale_one_and_dequantizes_to_zero()
    {
        using var w = zeros(4, 4);
        var (q, s) = BlockQuantization.QuantizeWeight(w, blockSize: 2);
        using (q)
        using (s)
        {
            Assert.All(s.data<float>().ToArray(), v => Assert.Equal(1f, v));
            using var back = BlockQuantization.DequantizeWeight(q, s, ScalarType.Float32, blockSize: 2);
            Assert.All(back.data<float>().ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Dequantize_rejects_a_scale_grid_of_the_wrong_shape()
    {
        using var q = zeros(576, 256).to_type(Float8E4M3.TorchType);
        using var s = ones(4, 2);
        var ex = Assert.Throws<QuantizationException>(() =>
            BlockQuantization.DequantizeWeight(q, s, ScalarType.BFloat16, tensorName: "model.layers.0.self_attn.kv_a_proj_with_mqa.weight"));
        Assert.Contains("kv_a_proj_with_mqa", ex.Message);
        Assert.Contains("expected shape [5, 2]", ex.Message);
        Assert.Contains("found [4, 2]", ex.Message);
    }

    [Fact]
    public void Dequantize_rejects_a_non_fp8_weight()
    {
        using var q = zeros(2, 2);
        using var s = ones(1, 1);
        Assert.Throws<QuantizationException>(() => BlockQuantization.DequantizeWeight(q, s, ScalarType.Float32));
    }

    /// <summary>E4M3 has 3 mantissa bits: each element is off by at most 2^-4 of its block's max (half an ulp at the
    /// top binade, 2^-4 relative), plus float32 noise.</summary>
    private static void AssertWithinE4M3Error(Tensor w, Tensor back, Tensor scaleInv)
    {
        using var blockMax = (scaleInv * Float8E4M3.MaxValue)
            .repeat_interleave(128, 0).repeat_interleave(128, 1)
            .narrow(0, 0, w.shape[0]).narrow(1, 0, w.shape[1]);
        using var error = (back - w).abs();
        using var bound = blockMax * (1.0 / 16) * (1 + 1e-5);
        Assert.True(error.le(bound).all().item<bool>(), "an element exceeds 2^-4 of its block's max");
    }
}
