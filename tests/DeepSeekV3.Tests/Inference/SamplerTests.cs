using DeepSeekV3.Inference;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

public class SamplerTests
{
    // log-probabilities of [0.5, 0.3, 0.15, 0.05]
    private static Tensor Logits() => tensor(new[] { 0.5f, 0.3f, 0.15f, 0.05f }).log();

    private static float[] Distribution(SamplingParams p)
    {
        var sampler = new Sampler(p);
        using var logits = Logits();
        using var d = sampler.Distribution(logits);
        return d.data<float>().ToArray();
    }

    [Fact]
    public void Greedy_is_a_one_hot_argmax()
    {
        Assert.Equal(new float[] { 1, 0, 0, 0 }, Distribution(new SamplingParams()));
        var sampler = new Sampler(new SamplingParams());
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
            var sampler = new Sampler(new SamplingParams { Temperature = 1, Seed = seed });
            using var logits = Logits();
            return Enumerable.Range(0, 50).Select(_ => sampler.Sample(logits)).ToArray();
        }
        Assert.Equal(Draws(3), Draws(3));
        Assert.NotEqual(Draws(3), Draws(4));
    }

    [Fact]
    public void Draws_follow_the_distribution()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 1, Seed = 5 });
        using var logits = Logits();
        var counts = new int[4];
        const int draws = 40_000;
        for (int i = 0; i < draws; i++) counts[sampler.Sample(logits)]++;
        double[] expected = [0.5, 0.3, 0.15, 0.05];
        // 4.5 standard deviations of a binomial proportion at n = 40,000 is at most 0.0113.
        for (int i = 0; i < 4; i++) Assert.InRange(counts[i] / (double)draws, expected[i] - 0.0113, expected[i] + 0.0113);
    }

    [Fact]
    public void Draws_land_only_on_positive_entries_across_16_wide_blocks()
    {
        var probabilities = new float[40];
        probabilities[3] = 0.25f;    // first block
        probabilities[20] = 0.5f;    // second block
        probabilities[37] = 0.25f;   // the tail after the last full block
        var sampler = new Sampler(new SamplingParams { Temperature = 1, Seed = 9 });
        var counts = new Dictionary<long, int>();
        const int draws = 40_000;
        for (int i = 0; i < draws; i++)
        {
            long token = sampler.Draw(probabilities);
            counts[token] = counts.GetValueOrDefault(token) + 1;
        }
        Assert.Equal(new long[] { 3, 20, 37 }, counts.Keys.Order().ToArray());
        Assert.InRange(counts[3] / (double)draws, 0.25 - 0.0098, 0.25 + 0.0098);    // 4.5 standard deviations
        Assert.InRange(counts[20] / (double)draws, 0.5 - 0.0113, 0.5 + 0.0113);
        Assert.Throws<ArgumentException>(() => sampler.Draw(new float[20]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(40)]
    [InlineData(1000)]
    public void Top_k_on_a_large_vocabulary_keeps_what_torch_topk_keeps(int k)
    {
        using var logits = randn(8192, generator: new Generator((ulong)k)) * 3;
        var sampler = new Sampler(new SamplingParams { Temperature = 0.7, TopK = k });
        using var d = sampler.Distribution(logits);
        // Reference: LibTorch's topk threshold and softmax over the kept scores.
        using var scaled = logits / 0.7;
        using var kth = scaled.topk(k).values[-1];
        using var kept = scaled.ge(kth);
        using var expected = scaled.masked_fill(kept.logical_not(), double.NegativeInfinity).softmax(0);
        Assert.Equal(k, d.count_nonzero().item<long>());
        Assert.True(d.allclose(expected, 1e-5, 1e-7), $"max diff {(d - expected).abs().max().item<float>()}");
    }

    [Theory]
    [InlineData(0.05)]
    [InlineData(0.5)]
    [InlineData(0.95)]
    public void Top_p_on_a_large_vocabulary_keeps_the_sorted_prefix_reaching_p(double topP)
    {
        using var logits = randn(8192, generator: new Generator(11)) * 2;
        var sampler = new Sampler(new SamplingParams { Temperature = 1, TopP = topP });
        using var d = sampler.Distribution(logits);
        // Reference: sort descending, keep a token while the mass before it is below top_p (in double).
        var p = logits.softmax(0).to(ScalarType.Float64).data<double>().ToArray();
        var order = Enumerable.Range(0, p.Length).OrderByDescending(i => p[i]).ToArray();
        var keep = new bool[p.Length];
        double before = 0;
        foreach (int i in order)
        {
            if (before >= topP) break;
            keep[i] = true;
            before += p[i];
        }
        var actual = d.data<float>().ToArray();
        for (int i = 0; i < p.Length; i++)
            Assert.True(keep[i] ? Math.Abs(actual[i] - p[i] / before) <= 1e-5 * p[i] / before + 1e-9 : actual[i] == 0,
                $"token {i}: kept {keep[i]}, {actual[i]} vs {(keep[i] ? p[i] / before : 0)}");
    }

    [Fact]
    public void Top_p_among_equal_probabilities_keeps_the_lowest_ids_it_needs()
    {
        // Ten tokens at 0.1 each: the walk keeps a token while the mass before it is < 0.35, so four stay.
        using var logits = zeros(10);
        var d = new Sampler(new SamplingParams { Temperature = 1, TopP = 0.35 }).Distribution(logits).data<float>().ToArray();
        Assert.Equal(new[] { 0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0, 0, 0 }, d.Select(v => Math.Round(v, 5)).ToArray());
    }

    [Fact]
    public void Greedy_takes_the_first_of_tied_maxima_like_torch_argmax()
    {
        var sampler = new Sampler(new SamplingParams());
        using var logits = tensor(new[] { 1f, 3f, 3f, 2f });
        Assert.Equal(logits.argmax().item<long>(), sampler.Sample(logits));
        Assert.Equal(1, sampler.Sample(logits));
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
