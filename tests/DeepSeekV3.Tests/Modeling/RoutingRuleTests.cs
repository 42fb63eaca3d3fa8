using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>The per-token routing rule (the fused decoder's) against the tensor <see cref="Router"/>, on the layouts
/// both implement: V3's biased sigmoid with top-2-sum groups, V2's softmax with best-expert groups, and plain top-K.</summary>
public class RoutingRuleTests
{
    public static TheoryData<string> Layouts => ["noaux_tc", "group_limited_greedy", "greedy", "noaux_tc, unnormalized"];

    private static ModelConfig Layout(string name)
    {
        // 30 experts in 5 groups of 6, 2 groups kept, 5 experts per token: group limits bind and K is odd.
        var v3 = ModelPresets.Tiny with { HiddenSize = 24, NRoutedExperts = 30, NGroup = 5, TopkGroup = 2, NumExpertsPerTok = 5, RoutedScalingFactor = 2.5 };
        return name switch
        {
            "noaux_tc" => v3,
            "noaux_tc, unnormalized" => v3 with { NormTopkProb = false },
            "group_limited_greedy" => v3 with { ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.GroupLimitedGreedy, NormTopkProb = false, RoutedScalingFactor = 16 },
            _ => v3 with { ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.Greedy, NGroup = 1, TopkGroup = 1, RoutedScalingFactor = 1 },
        };
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Per_token_rule_chooses_the_experts_and_weights_the_router_does(string layout)
    {
        var config = Layout(layout);
        using var router = new Router(config);
        WeightInitializer.Initialize(router, seed: 5, std: 0.4);
        if (router.ExpertScoreCorrectionBias is not null)
            router.SetCorrectionBias(randn([config.NRoutedExperts], generator: new Generator(9)) * 0.3);   // negative entries too
        using var x = randn([97, config.HiddenSize], generator: new Generator(13));
        using var route = router.Route(x);
        using var logits = matmul(x, router.Weight.t());
        float[] flat = logits.data<float>().ToArray();
        float[] bias = router.ExpertScoreCorrectionBias?.data<float>().ToArray() ?? [];
        long[] expectedExperts = route.Indices.data<long>().ToArray();
        float[] expectedWeights = route.Weights.data<float>().ToArray();

        int k = config.NumExpertsPerTok, experts = config.NRoutedExperts;
        var chosen = new int[k];
        var weights = new float[k];
        for (int token = 0; token < 97; token++)
        {
            router.Rule.Route(flat.AsSpan(token * experts, experts), bias, chosen, weights);
            for (int j = 0; j < k; j++)
            {
                Assert.Equal(expectedExperts[token * k + j], chosen[j]);
                Assert.Equal(expectedWeights[token * k + j], weights[j], 1e-5f);
            }
        }
    }

    [Fact]
    public void Rule_is_decided_from_the_config_fields()
    {
        Assert.Equal(GroupScoring.TopTwoSum, new RoutingRule(Layout("noaux_tc")).GroupScoring);
        Assert.Equal(GroupScoring.BestExpert, new RoutingRule(Layout("group_limited_greedy")).GroupScoring);
        Assert.Equal(GroupScoring.None, new RoutingRule(Layout("greedy")).GroupScoring);
        Assert.Equal(GroupScoring.None, new RoutingRule(Layout("noaux_tc") with { NGroup = 1, TopkGroup = 1 }).GroupScoring);
        Assert.True(new RoutingRule(Layout("noaux_tc")).UsesCorrectionBias);
        Assert.False(new RoutingRule(Layout("group_limited_greedy")).UsesCorrectionBias);
    }
}
