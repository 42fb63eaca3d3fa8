using DeepSeekV3.Inference;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

public class SpeculativeSamplingTests
{
    private static readonly float[] P = [0.5f, 0.3f, 0.2f];   // target
    private static readonly float[] Q = [0.2f, 0.5f, 0.3f];   // draft

    [Fact]
    public void Acceptance_probability_is_min_one_p_over_q()
    {
        using var p = tensor(P);
        using var q = tensor(Q);
        Assert.Equal(1.0, SpeculativeSampling.AcceptanceProbability(p, q, 0), 6);        // 0.5 / 0.2 > 1
        Assert.Equal(0.6, SpeculativeSampling.AcceptanceProbability(p, q, 1), 6);        // 0.3 / 0.5
        Assert.Equal(2.0 / 3, SpeculativeSampling.AcceptanceProbability(p, q, 2), 6);    // 0.2 / 0.3
    }

    [Fact]
    public void Residual_is_the_normalized_positive_part_of_p_minus_q()
    {
        using var p = tensor(P);
        using var q = tensor(Q);
        using var r = SpeculativeSampling.Residual(p, q);
        Assert.Equal(new float[] { 1, 0, 0 }, r.data<float>().ToArray());    // max(0, [0.3, −0.2, −0.1]) / 0.3
    }

    [Fact]
    public void Draft_then_verify_reproduces_the_target_distribution()
    {
        using var p = tensor(P);
        using var q = tensor(Q);
        var sampler = new Sampler(new SamplingParams { Temperature = 1, Seed = 12 });
        const int n = 20000;
        var counts = new int[3];
        int accepted = 0;
        for (int i = 0; i < n; i++)
        {
            long draft = sampler.Draw(q);
            var (ok, token) = SpeculativeSampling.Verify(p, q, draft, sampler);
            counts[token]++;
            if (ok) accepted++;
        }
        // Expected acceptance: Σ min(p, q) = 0.2 + 0.3 + 0.2 = 0.7. Every frequency must lie within 4.5 standard
        // errors of a binomial proportion (sqrt(f (1 − f) / n): 0.0032 for 0.7, at most 0.0035) of its expectation.
        static void AssertNear(double expected, int count)
        {
            double margin = 4.5 * Math.Sqrt(expected * (1 - expected) / n);
            Assert.InRange(count / (double)n, expected - margin, expected + margin);
        }
        AssertNear(0.7, accepted);
        for (int t = 0; t < 3; t++)
            AssertNear(P[t], counts[t]);
    }

    [Fact]
    public void Greedy_verification_keeps_the_draft_only_if_it_is_the_argmax()
    {
        var sampler = new Sampler(new SamplingParams());
        using var p = tensor(new float[] { 0, 1, 0 });
        using var q = tensor(new float[] { 1, 0, 0 });
        Assert.Equal((true, 1L), SpeculativeSampling.Verify(p, q, 1, sampler));
        Assert.Equal((false, 1L), SpeculativeSampling.Verify(p, q, 0, sampler));
    }
}
