using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Distributed;

public class ExpertParallelTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void One_rank_expert_parallel_equals_the_local_loop_in_forward_and_gradients(bool overlap)
    {
        using var local = TinyModels.Create();
        using var sharded = TinyModels.Create();
        using var context = ParallelContext.Single();
        var executor = ExpertParallel.Shard(sharded, context, overlap);
        Assert.All(ExpertParallel.MoeLayers(sharded), moe => Assert.Same(executor, moe.Executor));
        Assert.Equal(3, ExpertParallel.MoeLayers(sharded).Count());                       // layers 1, 2 and the MTP module

        using var tokens = TinyModels.Tokens(2, 9, ModelPresets.Tiny.VocabSize);
        using var a = local.Forward(tokens);
        using var b = sharded.Forward(tokens);
        Assert.True(allclose(a.Logits, b.Logits, 1e-5, 1e-6), $"max diff {(a.Logits - b.Logits).abs().max().item<float>()}");
        a.Logits.square().mean().backward();
        b.Logits.square().mean().backward();
        var expected = local.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        foreach (var (name, parameter) in sharded.named_parameters())
        {
            // The MTP module is not run here, so its parameters have no gradient on either side.
            if (expected[name] is not { } reference) { Assert.Null(parameter.grad); continue; }
            var grad = parameter.grad;
            Assert.True(grad is not null, name);
            Assert.True(allclose(grad!, reference, 1e-5, 1e-8), $"{name}: max diff {(grad! - reference).abs().max().item<float>()}");
        }
        Assert.True(executor.Timer.BytesSent > 0);
    }

    [Fact]
    public void Sharding_keeps_the_ranks_experts_with_the_values_of_the_full_model()
    {
        // Every rank builds and initializes the full model with the same seed, then drops other ranks' experts.
        using var full = TinyModels.Create();
        using var sharded = TinyModels.Create();
        var layout = new ParallelLayout(4, 2, expertParallel: 4);
        var (first, count) = layout.LocalExperts(ModelPresets.Tiny.NRoutedExperts);
        Assert.Equal((4, 2), (first, count));
        foreach (var moe in ExpertParallel.MoeLayers(sharded)) moe.RetainExperts(first, count);
        var all = full.state_dict();
        var kept = sharded.state_dict();
        Assert.All(kept, p => Assert.True(p.Value.equal(all[p.Key]).all().item<bool>(), p.Key));
        Assert.All(kept.Keys.Where(ExpertParallel.IsRoutedExpertParameter),
            n => Assert.Matches(@"\.mlp\.experts\.[45]\.", n));
    }

    [Fact]
    public void An_executor_refuses_a_layer_that_holds_other_experts()
    {
        using var model = TinyModels.Create();
        var moe = model.Model.Layers[1].Moe!;
        using var group = new SingleProcessCommunicator();
        moe.RetainExperts(2, 6);
        moe.UseExecutor(new ExpertParallelExecutor(group, ModelPresets.Tiny.NRoutedExperts, overlap: false));
        using var x = randn(1, 3, ModelPresets.Tiny.HiddenSize);
        var e = Assert.Throws<InvalidOperationException>(() => moe.Forward(x, new ForwardContext()));
        Assert.Contains("must hold [0, +8)", e.Message);
    }
}
