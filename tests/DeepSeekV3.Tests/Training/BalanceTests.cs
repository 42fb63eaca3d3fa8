using DeepSeekV3.Training.Objectives;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class BalanceTests
{
    [Fact]
    public void Bias_update_moves_overloaded_experts_down_and_underloaded_up_by_gamma()
    {
        // Loads 10, 2, 6, 6 → mean 6: expert 0 overloaded, 1 underloaded, 2 and 3 exactly balanced.
        var updated = BiasUpdate.Updated([0.5f, -0.25f, 0f, 1f], [10, 2, 6, 6], gamma: 0.001);
        Assert.Equal(0.499f, updated[0], 6);
        Assert.Equal(-0.249f, updated[1], 6);
        Assert.Equal(0f, updated[2]);
        Assert.Equal(1f, updated[3]);
    }

    [Fact]
    public void Max_vio_is_max_load_over_mean_minus_one()
    {
        Assert.Equal(10.0 / 6 - 1, ExpertLoad.MaxViolation([10, 2, 6, 6]), 12);
        Assert.Equal(0, ExpertLoad.MaxViolation([3, 3, 3]));
    }

    [Fact]
    public void Sequence_wise_balance_loss_matches_the_reports_formula_by_hand()
    {
        // One sequence, T = 2 tokens, N_r = 3 experts, K_r = 1.
        var scores = tensor(new float[] { 0.6f, 0.2f, 0.2f, 0.1f, 0.1f, 0.3f }, [2, 3]);
        var indices = tensor(new long[] { 0, 2 }, [2, 1]);
        // s' = [0.6 0.2 0.2], [0.2 0.2 0.6] → P = [0.4 0.2 0.4]; f = 3/(1·2)·[1 0 1] = [1.5 0 1.5].
        double expected = 1.5 * 0.4 + 0 + 1.5 * 0.4;
        Assert.Equal(expected, BalanceLoss.Compute(scores, indices, sequences: 1, sequenceWise: true).item<float>(), 5);

        // Two sequences of one token each: per sequence f = 3·onehot, P = s'; mean of 3·0.6 and 3·0.6.
        Assert.Equal(1.8, BalanceLoss.Compute(scores, indices, sequences: 2, sequenceWise: true).item<float>(), 5);
    }
}
