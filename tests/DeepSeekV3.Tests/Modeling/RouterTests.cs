using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

public class RouterTests
{
    // 32 experts in 8 groups of 4, 4 groups kept, 6 experts per token: group limits bind.
    private static readonly ModelConfig Config = ModelPresets.Tiny with
    {
        NRoutedExperts = 32, NGroup = 8, TopkGroup = 3, NumExpertsPerTok = 6, RoutedScalingFactor = 2.5,
    };

    private static Router CreateRouter(long seed = 3)
    {
        var router = new Router(Config);
        WeightInitializer.Initialize(router, seed, std: 0.5);
        return router;
    }

    private static Tensor Inputs(int n = 64) => randn([n, Config.HiddenSize], generator: new Generator(11));

    [Fact]
    public void Router_selects_experts_only_from_topk_group_groups()
    {
        using var router = CreateRouter();
        using var route = router.Route(Inputs());
        var groups = route.Indices.div(Config.NRoutedExperts / Config.NGroup, rounding_mode: RoundingMode.floor);
        var rows = groups.data<long>().ToArray().Chunk(Config.NumExpertsPerTok);
        foreach (var row in rows)
        {
            Assert.True(row.Distinct().Count() <= Config.TopkGroup);
        }
        // And each token's experts are distinct.
        Assert.All(route.Indices.data<long>().ToArray().Chunk(Config.NumExpertsPerTok), r => Assert.Equal(r.Length, r.Distinct().Count()));
    }

    [Fact]
    public void Router_weights_sum_to_the_routed_scaling_factor_and_come_from_unbiased_sigmoid()
    {
        using var router = CreateRouter();
        using var x = Inputs();
        using var route = router.Route(x);
        var sums = route.Weights.sum(-1).data<float>().ToArray();
        Assert.All(sums, s => Assert.Equal(2.5, s, 5));
        // Independent recomputation: sigmoid(x·Wᵀ) at the chosen experts, renormalized, ×2.5.
        using var s = matmul(x, router.Weight.t()).sigmoid();
        using var chosen = s.gather(-1, route.Indices);
        using var expected = chosen / chosen.sum(-1, keepdim: true) * 2.5;
        Assert.True(allclose(expected, route.Weights, 1e-5, 1e-6));
    }

    [Fact]
    public void Correction_bias_changes_selection_but_not_the_weight_formula()
    {
        using var router = CreateRouter();
        using var x = Inputs();
        using var before = router.Route(x);
        // A large bias on expert 5 forces it into every token's selection.
        var bias = zeros(Config.NRoutedExperts);
        bias[5] = 10.0f;
        router.SetCorrectionBias(bias);
        using var after = router.Route(x);
        Assert.False(before.Indices.eq(5).any(-1).all().item<bool>());
        Assert.True(after.Indices.eq(5).any(-1).all().item<bool>());
        // Weights still use the unbiased affinities: sigmoid score of expert 5 is < 1 and matches s, not s + 10.
        using var s = matmul(x, router.Weight.t()).sigmoid();
        using var chosen = s.gather(-1, after.Indices);
        Assert.True(allclose(chosen / chosen.sum(-1, keepdim: true) * 2.5, after.Weights, 1e-5, 1e-6));
        Assert.True(allclose(before.Scores, after.Scores));
    }

    [Fact]
    public void Masked_groups_use_minus_infinity_so_negative_biases_cannot_leak_experts()
    {
        using var router = CreateRouter();
        // Strongly negative biases everywhere: with a 0.0 fill (HF) masked experts would win; with −inf they cannot.
        router.SetCorrectionBias(full(Config.NRoutedExperts, -100f));
        using var route = router.Route(Inputs());
        var groups = route.Indices.div(4, rounding_mode: RoundingMode.floor).data<long>().ToArray().Chunk(6);
        Assert.All(groups, g => Assert.True(g.Distinct().Count() <= Config.TopkGroup));
    }

    [Fact]
    public void Softmax_router_without_normalization_keeps_raw_probabilities()
    {
        var v2 = Config with { ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.Greedy, NormTopkProb = false, RoutedScalingFactor = 1.0, NGroup = 1, TopkGroup = 1 };
        using var router = new Router(v2);
        WeightInitializer.Initialize(router, 3, std: 0.5);
        using var x = Inputs();
        using var route = router.Route(x);
        using var p = matmul(x, router.Weight.t()).softmax(-1);
        var top = p.topk(6, dim: -1);
        Assert.True(allclose(top.values, route.Weights, 1e-5, 1e-7));
        Assert.Null(router.ExpertScoreCorrectionBias);
    }
}
