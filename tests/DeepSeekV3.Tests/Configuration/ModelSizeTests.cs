using DeepSeekV3.Configuration;

namespace DeepSeekV3.Tests.Configuration;

public class ModelSizeTests
{
    [Fact]
    public void V3_sizes_match_the_spec_derivation()
    {
        var size = new ModelSize(ModelPresets.V3);
        // Attention per layer, dense layer total, MoE layer total, worked by hand in
        // docs/reference-notes.md#parameter-arithmetic-of-the-671b-config.
        Assert.Equal(187_107_328, size.AttentionParameters);
        Assert.Equal(583_483_392, size.LayerParameters(0));
        Assert.Equal(11_507_286_272, size.LayerParameters(3));
        Assert.Equal(671.03, size.TotalParameters / 1e9, 2);
        Assert.Equal(37.55, size.ActivatedParameters / 1e9, 2);
        Assert.Equal(11.61, size.MtpParameters / 1e9, 2);
    }

    [Fact]
    public void V3_latent_cache_is_70272_bytes_per_token_in_bf16()
    {
        var size = new ModelSize(ModelPresets.V3);
        Assert.Equal(70_272, size.LatentCacheBytesPerToken(2));
        // Full MHA cache of the same heads: 128 * (192 + 128) values per layer.
        Assert.Equal(128L * 320 * 61 * 2, size.MhaCacheBytesPerToken(2));
    }

    [Fact]
    public void V2_lite_is_15_7B_total_and_2_4B_activated_without_the_embedding()
    {
        var c = ModelPresets.V2Lite;
        var size = new ModelSize(c);
        Assert.Equal(15.7, size.TotalParameters / 1e9, 1);
        long embedding = (long)c.VocabSize * c.HiddenSize;
        // 2.451B: the DeepSeek-V2 paper's "2.4B" truncates it.
        Assert.InRange((size.ActivatedParameters - embedding) / 1e9, 2.40, 2.46);
    }

    [Fact]
    public void Tiny_and_small_presets_are_within_their_budgets()
    {
        Assert.True(new ModelSize(ModelPresets.Tiny).TotalParameters < 2_000_000);
        long small = new ModelSize(ModelPresets.Small).TotalParameters;
        Assert.InRange(small, 20_000_000, 60_000_000);
        var s = ModelPresets.Small;
        Assert.True(s.NRoutedExperts >= 16 && s.NGroup > 1 && s.NSharedExperts >= 1 && s.FirstKDenseReplace >= 1);
        Assert.True(s.HasQueryCompression && s.NumNextnPredictLayers == 1);
    }
}
