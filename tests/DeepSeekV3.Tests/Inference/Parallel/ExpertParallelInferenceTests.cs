using DeepSeekV3.Distributed;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Eplb;
using DeepSeekV3.Inference.Parallel;
using DeepSeekV3.Tests.Modeling;

namespace DeepSeekV3.Tests.Inference.Parallel;

/// <summary>The pieces of expert-parallel inference that need no second process (the MPI jobs are in
/// Distributed/ExpertParallelGenerationTests).</summary>
public class ExpertParallelInferenceTests
{
    [Fact]
    public void Initial_placement_is_the_identity_plus_replicas_of_the_next_ranks_first_experts()
    {
        Assert.Equal(ExpertPlacement.Identity(2, 8, 4).Phy2Log, ExpertPlacement.Initial(2, 8, 4, 0).Phy2Log);

        var placement = ExpertPlacement.Initial(layers: 1, experts: 8, ranks: 4, redundantPerRank: 1);
        // Rank r: its own experts 2r, 2r+1, then a replica of rank r+1's first expert (rank 3: rank 0's).
        Assert.Equal([0, 1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 0], placement.Phy2Log[0]);
        Assert.Equal(3, placement.SlotsPerRank);
        Assert.Equal([2, 1, 2, 1, 2, 1, 2, 1], placement.LogCnt[0]);
        Assert.Equal([0, 11], placement.SlotsOf(0, 0).ToArray());
        Assert.Equal([0, 6, 7], placement.ExpertsOnRank(0, 3));
    }

    [Fact]
    public void A_move_sends_each_new_expert_from_the_lowest_rank_that_holds_it()
    {
        var from = ExpertPlacement.Initial(1, 4, 2, 0);                                    // ranks {0, 1}, {2, 3}
        var to = ExpertLoadBalancer.Rebalance([[100, 1, 1, 1]], replicas: 6, groups: 1, nodes: 1, gpus: 2);
        var transfers = ExpertMover.Plan(from, to);

        foreach (int rank in new[] { 0, 1 })
        {
            var gained = to.ExpertsOnRank(0, rank).Except(from.ExpertsOnRank(0, rank)).Order();
            Assert.Equal(gained, transfers.Where(t => t.Destination == rank).Select(t => t.Expert));
        }
        Assert.All(transfers, t => Assert.Contains(t.Expert, from.ExpertsOnRank(0, t.Source)));
        Assert.Equal(3, to.LogCnt[0][0]);                                                  // the busy expert got both redundant slots
    }

    [Fact]
    public void Balance_is_mean_over_max_rank_load_averaged_over_the_layers_with_load()
    {
        var balance = ExpertBalance.Of([[3, 1], [0, 0], [2, 2]]);
        Assert.Equal((0.5 * (2.0 / 3) + 0.5 * 1.0), balance.Balancedness, 12);
        Assert.Equal([5.0, 3.0], balance.RankLoads);
        Assert.Equal(8, balance.Pairs);
    }

    [Fact]
    public void One_rank_with_redundant_experts_generates_what_the_local_experts_do()
    {
        using var reference = TinyModels.Create(seed: 11);
        using var sharded = TinyModels.Create(seed: 11);
        using var world = new SingleProcessCommunicator();
        var parallel = new ExpertParallelInference(sharded, world, new ExpertParallelInferenceOptions(RedundantExpertsPerRank: 2, RebalanceEvery: 3));
        var request = new GenerationRequest([3, 1, 4, 1, 5], new SamplingParams { MaxTokens = 10 });

        var expected = new GenerationEngine(reference, fused: false).Generate([request])[0];
        var actual = new GenerationEngine(sharded, backend: () => parallel.CreateBackend()).Generate([request])[0];

        Assert.Equal(expected.Tokens, actual.Tokens);
        Assert.Equal(10, actual.Tokens.Length);
        Assert.Equal(2, parallel.Metrics.Replans.Count);                                   // after decode steps 3 and 6 of 9
        // Every pair is counted once: (5 prompt + 9 fed-back tokens) × top-2 × 2 MoE layers, over the first window and the rest.
        long pairs = parallel.Metrics.Replans.Sum(r => r.Before.Pairs) + parallel.Observe().Pairs;
        Assert.Equal((5 + 9) * 2 * 2, pairs);
    }
}
