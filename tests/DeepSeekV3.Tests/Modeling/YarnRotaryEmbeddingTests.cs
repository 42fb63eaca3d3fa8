using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

public class YarnRotaryEmbeddingTests
{
    [Theory]  // pair index → corrected inverse frequency, by hand: docs/reference-notes.md#yarn-inverse-frequencies
    [InlineData(0, 1.0)]
    [InlineData(10, 5.62341e-2)]
    [InlineData(11, 3.90069e-2)]
    [InlineData(16, 5.5e-3)]
    [InlineData(20, 7.90569e-4)]
    [InlineData(22, 1.77828e-4)]
    [InlineData(23, 3.33380e-5)]
    [InlineData(31, 3.33380e-6)]
    public void V3_inverse_frequencies_match_the_spec_table(int pair, double expected)
    {
        var rope = new YarnRotaryEmbedding(ModelPresets.V3);
        Assert.Equal(expected, rope.InverseFrequencies[pair], expected * 1e-5);
    }

    [Fact]
    public void V3_correction_range_and_softmax_scale_match_the_spec()
    {
        var rope = new YarnRotaryEmbedding(ModelPresets.V3);
        Assert.Equal(10, rope.Low);
        Assert.Equal(23, rope.High);
        Assert.Equal(1.3688879, YarnRotaryEmbedding.Mscale(40, 1.0), 6);
        Assert.Equal(0.13523378, rope.SoftmaxScale, 7);
        Assert.Equal(1.0, rope.AttentionFactor);
    }

    [Fact]
    public void Without_yarn_the_scale_is_one_over_root_qk_head_dim()
    {
        var rope = new YarnRotaryEmbedding(ModelPresets.V3 with { RopeScaling = null });
        Assert.Equal(1 / Math.Sqrt(192), rope.SoftmaxScale, 10);
        Assert.Equal(1.0 / Math.Pow(10000, 2.0 * 5 / 64), rope.InverseFrequencies[5], 1e-7);
    }

    [Fact]
    public void Rotation_turns_adjacent_pairs_by_position_times_theta()
    {
        var rope = new YarnRotaryEmbedding(ModelPresets.Tiny with { RopeScaling = null });  // d_r = 8, θ_i = 10000^(-i/4)
        using var x = tensor(new float[] { 1, 0, 0, 1, 2, 0, 1, 1 }).view(1, 1, 1, 8);
        var (cos, sin) = rope.Angles(tensor(new long[] { 3 }).view(1, 1));
        using var y = YarnRotaryEmbedding.Apply(x, cos, sin);
        var v = y.data<float>().ToArray();
        double a0 = 3 * 1.0, a1 = 3 * Math.Pow(10000, -0.25), a2 = 3 * Math.Pow(10000, -0.5), a3 = 3 * Math.Pow(10000, -0.75);
        double[] expected =
        [
            Math.Cos(a0), Math.Sin(a0),                 // (1, 0) → (cos, sin)
            -Math.Sin(a1), Math.Cos(a1),                // (0, 1) → (−sin, cos)
            2 * Math.Cos(a2), 2 * Math.Sin(a2),
            Math.Cos(a3) - Math.Sin(a3), Math.Sin(a3) + Math.Cos(a3),
        ];
        for (int i = 0; i < 8; i++) Assert.Equal(expected[i], v[i], 5);
        cos.Dispose(); sin.Dispose();
    }
}
