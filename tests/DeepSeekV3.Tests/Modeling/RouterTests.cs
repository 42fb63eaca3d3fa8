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

    /// <summary>
    /// A router whose logits are the first E input features (weight = [I_E | 0]), so a test chooses u·e directly.
    /// </summary>
    private static Router IdentityRouter(ModelConfig config, float[] bias)
    {
        var router = new Router(config);
        using var _ = no_grad();
        using var weight = zeros(config.NRoutedExperts, config.HiddenSize);
        weight.narrow(1, 0, config.NRoutedExperts).copy_(eye(config.NRoutedExperts));
        router.Weight.copy_(weight);
        if (config.UsesCorrectionBias)
        {
            using var b = tensor(bias);
            router.SetCorrectionBias(b);
        }
        return router;
    }

    [Theory]
    [InlineData("noaux_tc", "sigmoid")]
    [InlineData("group_limited_greedy", "softmax")]
    public void Router_choice_equals_a_per_token_reference_of_group_limited_routing(string topkMethod, string scoringFunc)
    {
        var config = Config with
        {
            TopkMethod = ModelConfig.Parse($"{{\"topk_method\": \"{topkMethod}\"}}").TopkMethod,
            ScoringFunc = ModelConfig.Parse($"{{\"scoring_func\": \"{scoringFunc}\"}}").ScoringFunc,
        };
        const int tokens = 64;
        var random = new Random(5);
        // Low scores (logits in [-4, 0]: sigmoid below 0.5) and biases in [-1.5, -1]: every biased choice s + b is
        // negative. Had masked experts been filled with 0.0 instead of −inf (HF's old bug), every masked expert
        // would beat every kept one, and the chosen experts would come from groups the rule dropped.
        double[] bias = Enumerable.Range(0, config.NRoutedExperts).Select(_ => -1 - 0.5 * random.NextDouble()).ToArray();
        double[][] logits = Enumerable.Range(0, tokens)
            .Select(_ => Enumerable.Range(0, config.NRoutedExperts).Select(_ => -4 * random.NextDouble()).ToArray()).ToArray();
        if (!config.UsesCorrectionBias)
            bias = new double[config.NRoutedExperts];

        using var router = IdentityRouter(config, bias.Select(b => (float)b).ToArray());
        var x = new float[tokens * config.HiddenSize];
        for (int t = 0; t < tokens; t++)
            for (int i = 0; i < config.NRoutedExperts; i++)
                x[t * config.HiddenSize + i] = (float)logits[t][i];
        using var input = tensor(x, [tokens, config.HiddenSize]);
        using var route = router.Route(input);
        var indices = route.Indices.data<long>().ToArray().Chunk(config.NumExpertsPerTok).ToArray();

        int perGroup = config.NRoutedExperts / config.NGroup;
        for (int t = 0; t < tokens; t++)
        {
            // The float32 inputs are what the router saw; the reference reads them back in double.
            var seen = Enumerable.Range(0, config.NRoutedExperts).Select(i => (double)x[t * config.HiddenSize + i]).ToArray();
            var seenBias = bias.Select(b => (double)(float)b).ToArray();
            var (groups, experts) = ReferenceRouting.Choose(config, ReferenceRouting.Scores(config, seen), seenBias);
            int[] actual = indices[t].Select(i => (int)i).Order().ToArray();
            Assert.Equal(experts, actual);
            Assert.All(actual, i => Assert.Contains(i / perGroup, groups));
        }
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
