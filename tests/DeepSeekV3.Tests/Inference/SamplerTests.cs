using DeepSeekV3.Inference;
using DeepSeekV3.Runtime;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

public class SamplerTests
{
    // log-probabilities of [0.5, 0.3, 0.15, 0.05]
    private static Tensor Logits() => tensor(new[] { 0.5f, 0.3f, 0.15f, 0.05f }).log();

    private static float[] Distribution(SamplingParams p)
    {
        using var sampler = new Sampler(p);
        using var logits = Logits();
        using var d = sampler.Distribution(logits);
        return d.data<float>().ToArray();
    }

    [Fact]
    public void Greedy_is_a_one_hot_argmax()
    {
        Assert.Equal(new float[] { 1, 0, 0, 0 }, Distribution(new SamplingParams()));
        using var sampler = new Sampler(new SamplingParams());
        using var logits = tensor(new[] { 0.1f, 3f, -1f });
        Assert.Equal(1, sampler.Sample(logits));
    }

    [Fact]
    public void Top_p_keeps_the_smallest_prefix_reaching_p_and_renormalizes()
    {
        // 0.5 < 0.8, 0.5 + 0.3 ≥ 0.8 → keep the first two: [0.625, 0.375, 0, 0].
        var d = Distribution(new SamplingParams { Temperature = 1, TopP = 0.8 });
        Assert.Equal(new[] { 0.625, 0.375, 0, 0 }, d.Select(v => Math.Round(v, 5)).ToArray());
    }

    [Fact]
    public void Top_k_keeps_k_tokens()
    {
        var d = Distribution(new SamplingParams { Temperature = 1, TopK = 3 });
        Assert.Equal(new[] { 0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0 }, d.Select(v => Math.Round(v, 5)).ToArray(),
            new RoundedComparer());
    }

    [Fact]
    public void Temperature_two_takes_the_square_root_of_probabilities()
    {
        var d = Distribution(new SamplingParams { Temperature = 2 });
        double[] roots = [Math.Sqrt(0.5), Math.Sqrt(0.3), Math.Sqrt(0.15), Math.Sqrt(0.05)];
        double sum = roots.Sum();
        for (int i = 0; i < 4; i++) Assert.Equal(roots[i] / sum, d[i], 5);
    }

    [Fact]
    public void Same_seed_draws_the_same_tokens()
    {
        long[] Draws(long seed)
        {
            using var sampler = new Sampler(new SamplingParams { Temperature = 1, Seed = seed });
            using var logits = Logits();
            return Enumerable.Range(0, 50).Select(_ => sampler.Sample(logits)).ToArray();
        }
        Assert.Equal(Draws(3), Draws(3));
        Assert.NotEqual(Draws(3), Draws(4));
    }

    [Theory]
    [InlineData(-1, 0, 1.0, 10, "temperature")]
    [InlineData(1, -2, 1.0, 10, "top_k")]
    [InlineData(1, 0, 0.0, 10, "top_p")]
    [InlineData(1, 0, 1.5, 10, "top_p")]
    [InlineData(1, 0, 1.0, 0, "max_tokens")]
    public void Invalid_parameters_are_rejected(double t, int k, double p, int max, string field)
    {
        var e = Assert.Throws<InvalidArgumentException>(() => new SamplingParams { Temperature = t, TopK = k, TopP = p, MaxTokens = max }.Validated());
        Assert.Contains(field, e.Message);
    }

    private sealed class RoundedComparer : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) < 1e-5;
        public int GetHashCode(double v) => 0;
    }
}
