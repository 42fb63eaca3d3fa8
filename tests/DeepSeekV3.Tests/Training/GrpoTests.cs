using DeepSeekV3.Cli;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Training.Grpo;
using DeepSeekV3.Training.Metrics;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class GrpoTests
{
    [Fact]
    public void Advantages_are_rewards_normalized_within_each_group()
    {
        // Group 1: rewards 1, 0, 0, 1 → mean 0.5, sample std √(4·0.25/3) = 0.57735; group 2: all equal → 0.
        var advantages = GroupAdvantages.Compute([1, 0, 0, 1, 0.2, 0.2, 0.2, 0.2], groupSize: 4);
        double a = 0.5 / (Math.Sqrt(1.0 / 3) + 1e-4);
        Assert.Equal([a, -a, -a, a, 0, 0, 0, 0], advantages, (x, y) => Math.Abs(x - y) < 1e-12);
        Assert.Throws<ArgumentException>(() => GroupAdvantages.Compute([1, 2, 3], groupSize: 2));
    }

    [Fact]
    public void Loss_and_k3_kl_match_hand_computation_on_a_two_completion_group()
    {
        // Completion 1: two tokens, A = +1; completion 2: one token (the second is padding), A = −1.
        // log π_θ, log π_old, log π_ref per token:
        double[] theta = [-1.0, -0.5, -2.0, -9.0], old = [-1.2, -0.5, -1.8, -9.0], reference = [-1.1, -0.7, -2.0, -9.0];
        double[] advantage = [1, -1];
        double[] mask = [1, 1, 1, 0];
        const double eps = 0.2, beta = 0.1;
        double expectedLoss = 0, expectedKl = 0;
        for (int i = 0; i < 2; i++)
        {
            double sum = 0, klSum = 0, length = 0;
            for (int t = 0; t < 2; t++)
            {
                int k = i * 2 + t;
                if (mask[k] == 0) continue;
                double ratio = Math.Exp(theta[k] - old[k]);
                double surrogate = Math.Min(ratio * advantage[i], Math.Clamp(ratio, 1 - eps, 1 + eps) * advantage[i]);
                double kl = Math.Exp(reference[k] - theta[k]) - (reference[k] - theta[k]) - 1;   // k3
                sum += -(surrogate - beta * kl);
                klSum += kl;
                length++;
            }
            expectedLoss += sum / length / 2;
            expectedKl += klSum / length / 2;
        }
        Tensor T(double[] v) => tensor(v.Select(x => (float)x).ToArray()).reshape(2, 2);
        using var logProbs = T(theta).requires_grad_(true);
        using var parts = GrpoLoss.Compute(logProbs, T(old), T(reference), tensor(new float[] { 1, -1 }), T(mask), eps, beta);
        Assert.Equal(expectedLoss, parts.Loss.item<float>(), 5);
        Assert.Equal(expectedKl, parts.Kl, 5);
        // Token 1 of completion 1 has ratio e^0.2 = 1.22 > 1 + ε with A > 0: clipped, so no gradient from the surrogate,
        // only β·∂k3/∂logπ = β·(1 − π_ref/π_θ), scaled by 1/(G·|o_1|) = 1/4.
        parts.Loss.backward();
        double expectedGrad = beta * (1 - Math.Exp(reference[0] - theta[0])) / 4;
        Assert.Equal(expectedGrad, logProbs.grad!.data<float>()[0], 5);
        Assert.Equal(0f, logProbs.grad!.data<float>()[3]);                               // padding
        Assert.Equal(1.0 / 3, parts.ClippedShare, 5);
    }

    [Fact]
    public void K3_kl_is_zero_at_the_reference_and_positive_elsewhere()
    {
        using var same = tensor(new float[] { -1, -2 }).reshape(1, 2);
        using var parts = GrpoLoss.Compute(same, same, same, tensor(new float[] { 0 }), ones(1, 2), 0.2, 1.0);
        Assert.Equal(0, parts.Kl, 6);
        using var other = tensor(new float[] { -1.5f, -1 }).reshape(1, 2);
        using var apart = GrpoLoss.Compute(same, same, other, tensor(new float[] { 0 }), ones(1, 2), 0.2, 1.0);
        Assert.True(apart.Kl > 0);
    }

    [Fact]
    public void Reward_is_one_for_the_right_answer_plus_the_format_bonus()
    {
        var reward = new AnswerReward(0.2);
        Assert.Equal(1.2, reward.Score("7", endedWithEos: true, "7"), 10);
        Assert.Equal(1.0, reward.Score("it is 7", endedWithEos: true, "7"), 10);
        Assert.Equal(1.0, reward.Score("7", endedWithEos: false, "7"), 10);            // cut off by max tokens
        Assert.Equal(0.2, reward.Score("8", endedWithEos: true, "7"), 10);
        Assert.Equal(0.0, reward.Score("no", endedWithEos: true, "7"), 10);
    }

    [Fact]
    public void Grpo_command_runs_resumes_and_reproduces_the_uninterrupted_run()
    {
        using var dir = new TempDirectory();
        string repository = Path.GetFullPath(Path.Combine(BundledModelTests.ModelDirectory(), "..", ".."));
        string[] args = ["grpo", "--model", BundledModelTests.ModelDirectory(), "--task", Path.Combine(repository, "data", "grpo", "sums-train.jsonl"),
                         "--out", dir.File("run"), "--steps", "3", "--prompts", "2", "--group", "3", "--max-tokens", "4", "--save-every", "2",
                         "--lr", "1e-4", "--warmup", "1", "--iterations", "2"];
        var output = new StringWriter();
        Assert.True(CliApp.Run(args, output, output) == 0, output.ToString());
        string metricsFile = dir.File(Path.Combine("run", MetricsLog.FileName));
        var uninterrupted = MetricsLog.Read<GrpoStepMetrics>(metricsFile);
        Assert.Equal(3, uninterrupted.Count);
        Directory.Delete(dir.File(Path.Combine("run", "checkpoints", "step-00000003")), recursive: true);
        Assert.True(CliApp.Run([.. args, "--resume"], output, output) == 0, output.ToString());
        var resumed = MetricsLog.Read<GrpoStepMetrics>(metricsFile);
        Assert.Equal(uninterrupted.Select(m => (m.Reward, m.Sample, m.Loss, m.Kl)), resumed.Select(m => (m.Reward, m.Sample, m.Loss, m.Kl)));
        Assert.True(File.Exists(dir.File(Path.Combine("run", "plots", "reward.png"))));
        Assert.True(File.Exists(dir.File(Path.Combine("run", "model", "tokenizer.json"))));
    }
}
