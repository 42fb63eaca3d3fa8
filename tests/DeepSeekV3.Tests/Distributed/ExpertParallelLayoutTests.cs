using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Distributed;

public class ExpertParallelLayoutTests
{
    // 16 experts in 4 groups of 4, top-4 experts from the top-2 groups: the report's n_group 8 / topk_group 4 in small.
    private static readonly ModelConfig NodeLimited = ModelPresets.Tiny with
    {
        NRoutedExperts = 16, NGroup = 4, TopkGroup = 2, NumExpertsPerTok = 4,
    };

    [Fact]
    public void Node_limited_routing_keeps_every_tokens_experts_on_at_most_topk_group_nodes()
    {
        // 8 ranks, 2 per node: 4 nodes, one expert group per node (experts 4g..4g+3 on node g).
        var layout = new ParallelLayout(8, 0, expertParallel: 8, ranksPerNode: 2);
        layout.Validate(NodeLimited);
        using var router = new Router(NodeLimited);
        using var generator = new Generator(3);
        using (no_grad())
            router.Weight.copy_(randn(router.Weight.shape, generator: generator));
        using var tokens = randn([512, NodeLimited.HiddenSize], generator: generator);
        using var route = router.Route(tokens);

        long[] indices = route.Indices.data<long>().ToArray();
        int k = NodeLimited.NumExpertsPerTok, widest = 0;
        for (int t = 0; t < indices.Length / k; t++)
        {
            int nodes = indices.Skip(t * k).Take(k)
                .Select(e => layout.NodeOf(layout.OwnerOf((int)e, NodeLimited.NRoutedExperts))).Distinct().Count();
            Assert.True(nodes <= NodeLimited.TopkGroup, $"token {t}: experts on {nodes} nodes");
            widest = Math.Max(widest, nodes);
        }
        Assert.Equal(NodeLimited.TopkGroup, widest);        // the limit is reached, so the check is not vacuous
    }

    [Fact]
    public void Experts_that_do_not_divide_over_the_ranks_are_refused_naming_the_rule()
    {
        var layout = new ParallelLayout(3, 0, expertParallel: 3);
        var e = Assert.Throws<InvalidArgumentException>(() => layout.Validate(NodeLimited));
        Assert.Contains("n_routed_experts 16 must divide evenly", e.Message);
    }

    [Fact]
    public void Nodes_that_would_split_an_expert_group_are_refused_naming_the_rule()
    {
        // 8 ranks of 1 per node: 8 nodes for 4 groups, so a group would span two nodes.
        var layout = new ParallelLayout(8, 0, expertParallel: 8, ranksPerNode: 1);
        var e = Assert.Throws<InvalidArgumentException>(() => layout.Validate(NodeLimited));
        Assert.Contains("whole expert groups", e.Message);
    }

    [Fact]
    public void A_model_without_routed_experts_cannot_be_expert_parallel()
    {
        var dense = ModelPresets.Tiny with { NRoutedExperts = 0 };
        var e = Assert.Throws<InvalidArgumentException>(() => new ParallelLayout(2, 0, expertParallel: 2).Validate(dense));
        Assert.Contains("no routed experts", e.Message);
    }
}
