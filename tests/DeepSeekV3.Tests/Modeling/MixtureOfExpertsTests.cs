using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

public class MixtureOfExpertsTests
{
    [Fact]
    public void Routed_experts_keep_their_checkpoint_names()
    {
        using var model = TinyModels.Create();
        var names = model.state_dict().Keys.ToHashSet();
        for (int e = 0; e < ModelPresets.Tiny.NRoutedExperts; e++)
            Assert.Contains($"model.layers.1.mlp.experts.{e}.gate_proj.weight", names);
        Assert.Contains("model.layers.3.mlp.experts.7.down_proj.weight", names);   // the MTP module's MoE
    }

    [Fact]
    public void Retaining_some_experts_keeps_their_names_and_values_and_drops_the_rest()
    {
        using var full = TinyModels.Create();
        using var shard = TinyModels.Create();
        var moe = shard.Model.Layers[1].Moe!;
        moe.RetainExperts(4, 2);

        Assert.Equal((4, 2), moe.LocalExperts);
        Assert.True(moe.HasExpert(5));
        Assert.False(moe.HasExpert(3));
        Assert.Throws<InvalidOperationException>(() => moe.Expert(0));
        var kept = shard.state_dict();
        var all = full.state_dict();
        var expertNames = kept.Keys.Where(n => n.StartsWith("model.layers.1.mlp.experts.")).ToList();
        Assert.Equal(2 * 3, expertNames.Count);                                       // 2 experts × gate, up, down
        Assert.All(expertNames, n => Assert.True(n.StartsWith("model.layers.1.mlp.experts.4.") || n.StartsWith("model.layers.1.mlp.experts.5.")));
        Assert.All(expertNames, n => Assert.True(kept[n].equal(all[n]).all().item<bool>(), n));
        Assert.Equal(all.Count - 6 * 3, kept.Count);
    }

    [Fact]
    public void Holding_a_set_of_experts_keeps_the_listed_ones_adopts_new_ones_and_names_them_by_index()
    {
        using var shard = TinyModels.Create();
        var moe = shard.Model.Layers[1].Moe!;
        var kept = moe.Expert(6);
        var adopted = new SwiGluMlp(ModelPresets.Tiny.HiddenSize, ModelPresets.Tiny.MoeIntermediateSize);
        moe.HoldExperts([(1, adopted), (6, kept)]);

        Assert.Equal([1, 6], moe.HeldExperts);
        Assert.Same(adopted, moe.Expert(1));
        Assert.Same(kept, moe.Expert(6));
        Assert.Throws<InvalidOperationException>(() => moe.LocalExperts);                   // not one range
        Assert.Contains("model.layers.1.mlp.experts.1.gate_proj.weight", shard.state_dict().Keys);
    }

    [Fact]
    public void The_default_executor_is_the_local_one()
    {
        using var model = TinyModels.Create();
        Assert.Same(LocalExpertExecutor.Instance, model.Model.Layers[1].Moe!.Executor);
    }
}
