using DeepSeekV3.Inference.Eplb;

namespace DeepSeekV3.Tests.Inference.Eplb;

public class ExpertLoadBalancerTests
{
    // deepseek-ai/EPLB README, "Interface and Example": 2 layers of 12 experts in 4 groups, 16 replicas,
    // 2 nodes of 4 GPUs each (hierarchical, since 4 % 2 == 0).
    internal static readonly double[][] ReadmeLoads =
    [
        [90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86],
        [20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27],
    ];

    internal static readonly int[][] ReadmePhy2Log =
    [
        [5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1],
        [7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1],
    ];

    [Fact]
    public void Readme_example_gives_the_published_phy2log_and_the_derived_logcnt_and_log2phy()
    {
        var placement = ExpertLoadBalancer.Rebalance(ReadmeLoads, replicas: 16, groups: 4, nodes: 2, gpus: 8);

        Assert.Equal(ReadmePhy2Log, Rows(placement.Phy2Log));
        // logcnt and log2phy are not published; reference notes §1.9 derive them with an independent port. A hand
        // trace of the reference's code for layer 0 agrees. Group loads [262, 330, 116, 325], heaviest first g1, g3,
        // g0, g2 into 2 nodes of 2: node 0 = {g1, g2} (experts 3..8), node 1 = {g3, g0} (9..11, 0..2). Node 0's 8
        // slots: 165 (expert 5) gets the first extra replica (→ 82.5 each), then 104 (expert 4, → 52 each). Replica
        // loads heaviest first 82.5 (e5 r0), 82.5 (e5 r1), 73 (e8), 61 (e3), 52 (e4 r0), 52 (e4 r1), 39 (e6), 4 (e7)
        // fill GPUs 0,1,2,3,3,2,0,1 → slots [e5 e6 | e5 e7 | e8 e4 | e3 e4], as published; e5 = [0, 2], e4 = [7, 5].
        Assert.Equal([[1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1], [1, 2, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1]], Rows(placement.LogCnt));
        Assert.Equal(
        [
            [[12, -1], [15, 13], [11, -1], [6, -1], [7, 5], [0, 2], [1, -1], [3, -1], [4, -1], [9, -1], [8, 10], [14, -1]],
            [[13, -1], [15, 11], [8, -1], [14, -1], [9, -1], [10, 12], [2, 4], [0, -1], [6, 3], [7, -1], [1, -1], [5, -1]],
        ], placement.Log2Phy.Select(Rows).ToArray());
    }

    [Fact]
    public void Groups_that_do_not_divide_over_the_nodes_use_the_global_policy_of_the_current_reference()
    {
        // Reference notes §1.9, global-policy vector [derived]: the README loads with 3 nodes (4 % 3 != 0). The global
        // branch packs replicas onto GPUs (EPLB commit e1100fe); before it, replicas were simply appended.
        Assert.Equal(EplbPolicy.Global, ExpertLoadBalancer.PolicyFor(groups: 4, nodes: 3));
        var placement = ExpertLoadBalancer.Rebalance(ReadmeLoads, replicas: 16, groups: 4, nodes: 3, gpus: 8);

        Assert.Equal([[10, 6, 10, 7, 0, 2, 11, 4, 5, 9, 5, 4, 8, 3, 1, 1], [1, 10, 2, 4, 5, 11, 5, 0, 6, 7, 6, 3, 8, 8, 9, 7]],
            Rows(placement.Phy2Log));
        Assert.Equal([[1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1], [1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1]], Rows(placement.LogCnt));
        Assert.Equal([15, 9], placement.Log2Phy[1][7]);     // replica order, not slot order
    }

    [Fact]
    public void Deployments_of_the_report_pick_hierarchical_for_prefill_and_global_for_decode()
    {
        // Reference notes §1.10: V3's 8 expert groups over prefill's 4 nodes, and over decode's 18 nodes (Day 6 note).
        Assert.Equal(EplbPolicy.Hierarchical, ExpertLoadBalancer.PolicyFor(groups: 8, nodes: 4));
        Assert.Equal(EplbPolicy.Global, ExpertLoadBalancer.PolicyFor(groups: 8, nodes: 18));
    }

    [Fact]
    public void A_tiny_case_computed_by_hand()
    {
        // Loads [8, 2, 4, 2], 6 slots on 2 GPUs, one node and one group.
        // Replicate: 8 is the busiest (→ 4 each), then still 4 ≥ 4 and expert 0 comes first (→ 8/3 each):
        // slots 4 and 5 are replicas 1 and 2 of expert 0; logcnt [3, 1, 1, 1].
        // Replica loads [8/3, 2, 4, 2, 8/3, 8/3], heaviest first: s2 (4), s0, s4, s5 (8/3), s1, s3 (2), into 2 GPUs of 3:
        // s2 → GPU0 (4); s0 → GPU1 (2.67); s4 → GPU1 (5.33); s5 → GPU0 (6.67); s1 → GPU1 (7.33, full); s3 → GPU0 (8.67).
        // GPU0 = [e2, e0, e3], GPU1 = [e0, e0, e1]; expert 0's replicas 0, 1, 2 sit in slots 3, 4, 1.
        var placement = ExpertLoadBalancer.Rebalance([[8, 2, 4, 2]], replicas: 6, groups: 1, nodes: 1, gpus: 2);

        Assert.Equal([2, 0, 3, 0, 0, 1], placement.Phy2Log[0]);
        Assert.Equal([3, 1, 1, 1], placement.LogCnt[0]);
        Assert.Equal([[3, 4, 1], [5, -1, -1], [0, -1, -1], [2, -1, -1]], Rows(placement.Log2Phy[0]));
        Assert.Equal([3, 4, 1], placement.SlotsOf(0, 0).ToArray());
        Assert.Equal([5], placement.SlotsOf(0, 1).ToArray());
        // GPU loads 26/3 and 22/3: mean 8 over max 26/3. Without replicas, [8 + 2, 4 + 2]: mean 8 over max 10.
        Assert.Equal(24.0 / 26, placement.Balancedness([[8, 2, 4, 2]])[0], 12);
        Assert.Equal(0.8, ExpertPlacement.Identity(1, 4, 2).Balancedness([[8, 2, 4, 2]])[0], 12);
    }

    [Theory]
    [InlineData(12, 16, 4, 2, 8)]
    [InlineData(16, 24, 4, 2, 4)]
    [InlineData(64, 80, 8, 4, 16)]
    [InlineData(256, 288, 8, 4, 32)]     // prefill: 32 redundant experts, 4 nodes, 9 per GPU (report §3.4.1)
    [InlineData(12, 16, 4, 3, 8)]        // global: 4 groups over 3 nodes
    [InlineData(32, 48, 4, 3, 6)]
    [InlineData(256, 288, 8, 18, 144)]   // decode: 18 nodes, 2 per GPU (Day 6 note), global
    public void Placements_on_random_loads_keep_every_invariant(int experts, int replicas, int groups, int nodes, int gpus)
    {
        double[][] loads = SkewedLoads(layers: 3, experts, seed: experts * 1000 + nodes);
        var placement = ExpertLoadBalancer.Rebalance(loads, replicas, groups, nodes, gpus);
        var policy = ExpertLoadBalancer.PolicyFor(groups, nodes);

        Assert.Equal((3, experts, replicas, gpus), (placement.Layers, placement.LogicalExperts, placement.PhysicalExperts, placement.Ranks));
        Assert.Equal(replicas / gpus, placement.SlotsPerRank);
        int width = placement.LogCnt.Max(row => row.Max());
        for (int l = 0; l < 3; l++)
        {
            var phy2log = placement.Phy2Log[l];
            var logcnt = placement.LogCnt[l];
            Assert.All(logcnt, count => Assert.InRange(count, 1, replicas));
            Assert.Equal(replicas, logcnt.Sum());
            for (int e = 0; e < experts; e++)
            {
                var row = placement.Log2Phy[l][e];
                Assert.Equal(width, row.Count);
                // The replicas of e are exactly the slots that phy2log maps to e, then −1 padding.
                Assert.Equal(Enumerable.Range(0, replicas).Where(p => phy2log[p] == e).Order(), row.Take(logcnt[e]).Order());
                Assert.All(row.Skip(logcnt[e]), slot => Assert.Equal(-1, slot));
            }
            Assert.All(Enumerable.Range(0, replicas).GroupBy(placement.RankOfSlot), rank => Assert.Equal(replicas / gpus, rank.Count()));
            if (policy == EplbPolicy.Hierarchical)
                for (int g = 0; g < groups; g++)
                {
                    int groupSize = experts / groups, gpusPerNode = gpus / nodes;
                    var nodesOfGroup = Enumerable.Range(0, replicas).Where(p => phy2log[p] / groupSize == g)
                        .Select(p => placement.RankOfSlot(p) / gpusPerNode).Distinct();
                    Assert.Single(nodesOfGroup);
                }
        }
        if (experts % gpus == 0)
        {
            double[] before = ExpertPlacement.Identity(3, experts, gpus).Balancedness(loads), after = placement.Balancedness(loads);
            for (int l = 0; l < 3; l++)
                Assert.True(after[l] > before[l], $"layer {l}: balancedness {before[l]:F3} -> {after[l]:F3}");
        }
    }

    [Theory]
    [InlineData(12, 15, 4, 2, 8, "replicas 15 must be a multiple of gpus 8")]
    [InlineData(12, 8, 4, 2, 8, "replicas 8 must be at least experts 12")]
    [InlineData(12, 18, 4, 4, 6, "gpus 6 must be a multiple of nodes 4")]
    [InlineData(12, 16, 8, 2, 8, "experts 12 must be a multiple of groups 8")]
    [InlineData(12, 16, 4, 2, 0, "each must be at least 1")]
    [InlineData(12, 16, 4, 0, 8, "each must be at least 1")]
    public void Cluster_shapes_eplb_cannot_fill_are_refused_naming_the_rule(int experts, int replicas, int groups, int nodes, int gpus, string rule)
    {
        double[][] loads = [Enumerable.Repeat(1.0, experts).ToArray()];
        var error = Assert.Throws<InvalidArgumentException>(() => ExpertLoadBalancer.Rebalance(loads, replicas, groups, nodes, gpus));
        Assert.Contains(rule, error.Message);
    }

    [Fact]
    public void The_global_policy_ignores_groups_and_nodes_as_the_reference_does()
    {
        // 5 groups over 3 nodes: global, so neither 12 % 5 nor 8 % 3 matters (the reference asserts them only in the
        // hierarchical routine, which it then runs with one group on one node).
        var placement = ExpertLoadBalancer.Rebalance(ReadmeLoads, replicas: 16, groups: 5, nodes: 3, gpus: 8);
        var reference = ExpertLoadBalancer.Rebalance(ReadmeLoads, replicas: 16, groups: 1, nodes: 1, gpus: 8);
        Assert.Equal(Rows(reference.Phy2Log), Rows(placement.Phy2Log));
    }

    internal static int[][] Rows(IReadOnlyList<IReadOnlyList<int>> rows) => rows.Select(row => row.ToArray()).ToArray();

    /// <summary>Integer loads, a few experts far busier than the rest (cubes of uniforms), ties possible.</summary>
    private static double[][] SkewedLoads(int layers, int experts, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, layers)
            .Select(_ => Enumerable.Range(0, experts).Select(_ => Math.Floor(1000 * Math.Pow(random.NextDouble(), 3))).ToArray())
            .ToArray();
    }
}
