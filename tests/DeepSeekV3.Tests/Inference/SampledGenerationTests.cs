using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary>
/// Sampled generation end to end, against the exact distribution of what it generates. With a 4-token vocabulary and
/// 3 new tokens there are 64 continuations, and the probability of each is the product of its tokens' sampling
/// probabilities, computed here from the model's own logits (an uncached forward pass per prefix). Plain sampling must
/// draw from it, and so must MTP speculative sampling: accepting a draft with probability min(1, p/q), else drawing
/// from norm(max(0, p − q)), and the bonus token after an accepted draft keep the output the target's
/// (Leviathan et al. 2023, https://arxiv.org/abs/2211.17192, Theorem 1).
/// </summary>
public class SampledGenerationTests
{
    private static readonly ModelConfig FourTokens = ModelPresets.Tiny with { VocabSize = 4, EosTokenId = null };

    // Temperature and top-k both apply to the target's and the draft's distributions alike; with top-k 3 of 4, a draft
    // the target's filter drops (p = 0) must always be rejected, and 37 of the 64 continuations are impossible.
    private static readonly SamplingParams Sampled = new() { Temperature = 1.3, TopK = 3, MaxTokens = 3, IgnoreEos = true };
    private static readonly long[] Prompt = [2, 0, 3, 1, 1];

    /// <summary>Seeded runs per statistical test, a few seconds each. Draws from a distribution 0.1 away in total
    /// variation give a chi-square statistic of at least 3000 · 0.2² = 120 above its degrees of freedom in expectation
    /// (Σ (o − e)² / e ≥ (Σ |o − e|)² / Σ e), against a critical value about 50 above them.</summary>
    private const int Runs = 3000;

    // std 0.3: logits of a few units, so the distributions are far from uniform and the MTP module's drafts are
    // often rejected (as in MtpSpeculativeDecoderTests).
    private static DeepSeekV3ForCausalLM FourTokenModel() => TinyModels.Create(FourTokens, seed: 4, std: 0.3);

    [Fact]
    public void Plain_sampling_draws_continuations_from_the_models_distribution()
    {
        using var model = FourTokenModel();
        var requests = Enumerable.Range(0, Runs).Select(seed => new GenerationRequest(Prompt, Sampled with { Seed = seed })).ToList();
        // One batch: 3000 sequences at once, in 8-token cache blocks (the 5 + 3 positions each needs), not 64.
        var results = new GenerationEngine(model, blockSize: 8).Generate(requests);
        AssertFollows(ExactDistribution(model), Count(results));
    }

    [Fact]
    public void Mtp_speculative_sampling_draws_continuations_from_the_main_models_distribution()
    {
        using var model = FourTokenModel();
        var decoder = new MtpSpeculativeDecoder(model);
        var results = Enumerable.Range(0, Runs)
            .Select(seed => decoder.Generate(new GenerationRequest(Prompt, Sampled with { Seed = seed }))).ToList();
        AssertFollows(ExactDistribution(model), Count(results));
        // Both outcomes ran often: accepted drafts (each followed by a bonus token) and rejected ones (a residual draw).
        int drafted = results.Sum(r => r.DraftedTokens), accepted = results.Sum(r => r.AcceptedTokens);
        Assert.True(accepted > Runs / 4 && drafted - accepted > Runs / 4, $"{accepted} of {drafted} drafts accepted");
    }

    [Fact]
    public void A_seed_reproduces_its_tokens_and_another_seed_draws_others()
    {
        using var model = TinyModels.Create();
        var sampling = new SamplingParams { Temperature = 1, MaxTokens = 32, IgnoreEos = true };
        long[] prompt = [5, 17, 300, 42];
        long[] Plain(long seed) => new GenerationEngine(model).Generate([new GenerationRequest(prompt, sampling with { Seed = seed })])[0].Tokens;
        long[] Speculative(long seed) => new MtpSpeculativeDecoder(model).Generate(new GenerationRequest(prompt, sampling with { Seed = seed })).Tokens;
        // 32 draws from a near-uniform 512-token distribution: two seeds agreeing on all of them would be a broken seed.
        Assert.Equal(Plain(1), Plain(1));
        Assert.NotEqual(Plain(1), Plain(2));
        Assert.Equal(Speculative(1), Speculative(1));
        Assert.NotEqual(Speculative(1), Speculative(2));
    }

    [Fact]
    public void A_batched_sampled_run_equals_each_request_run_alone()
    {
        using var model = TinyModels.Create();
        var engine = new GenerationEngine(model, blockSize: 4);
        var sampling = new SamplingParams { Temperature = 0.9, TopP = 0.95, TopK = 50, MaxTokens = 12, IgnoreEos = true };
        // Prompt lengths: one fused prefill pass, two of them, and LibTorch's prefill (over 32 tokens); the last two
        // requests share a prompt and differ only in their seed.
        int[] lengths = [3, 9, 20, 40, 40];
        var requests = lengths.Select((n, i) =>
        {
            using var prompt = TinyModels.Tokens(1, n, model.Config.VocabSize, seed: Math.Min(i, 3));
            return new GenerationRequest(prompt.data<long>().ToArray(), sampling with { Seed = 100 + i });
        }).ToList();
        var batched = engine.Generate(requests);
        for (int i = 0; i < requests.Count; i++)
            Assert.Equal(engine.Generate([requests[i]])[0].Tokens, batched[i].Tokens);
        Assert.NotEqual(batched[3].Tokens, batched[4].Tokens);
    }

    /// <summary>
    /// P(t1 t2 t3) for every continuation, at index t1·16 + t2·4 + t3: the product of each token's probability after
    /// the prompt and the tokens before it, softmax(logits / T) over the top k logits, in double precision.
    /// </summary>
    private static double[] ExactDistribution(DeepSeekV3ForCausalLM model)
    {
        int vocab = FourTokens.VocabSize;
        var exact = new double[vocab * vocab * vocab];
        void Walk(List<long> tokens, double probability, int index)
        {
            if (tokens.Count == Prompt.Length + Sampled.MaxTokens)
            {
                exact[index] = probability;
                return;
            }
            double[] next = NextTokenProbabilities(model, tokens);
            for (int token = 0; token < vocab; token++)
                if (next[token] > 0) Walk([.. tokens, token], probability * next[token], index * vocab + token);
        }
        Walk([.. Prompt], 1, 0);
        Assert.Equal(1, exact.Sum(), 9);
        return exact;
    }

    private static double[] NextTokenProbabilities(DeepSeekV3ForCausalLM model, IReadOnlyList<long> tokens)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var output = model.Forward(tensor(tokens.ToArray()).unsqueeze(0));
        double[] logits = output.Logits[0, -1].to(ScalarType.Float64).data<double>().ToArray();
        double kth = logits.OrderDescending().ElementAt(Sampled.TopK - 1), max = logits.Max();
        double[] weights = logits.Select(l => l >= kth ? Math.Exp((l - max) / Sampled.Temperature) : 0).ToArray();
        double total = weights.Sum();
        return weights.Select(w => w / total).ToArray();
    }

    private static int[] Count(IEnumerable<GenerationResult> results)
    {
        int vocab = FourTokens.VocabSize;
        var counts = new int[vocab * vocab * vocab];
        foreach (var result in results)
        {
            Assert.Equal(Sampled.MaxTokens, result.Tokens.Length);
            counts[result.Tokens.Aggregate(0, (index, token) => index * vocab + (int)token)]++;
        }
        return counts;
    }

    /// <summary>
    /// Pearson's chi-square goodness-of-fit test of <paramref name="counts"/> against <paramref name="exact"/>, failing
    /// a correct sampler once in a million seedings. Continuations expected fewer than 5 times are pooled, smallest
    /// first, into bins expected at least 5 times (the usual condition for the chi-square approximation); impossible
    /// continuations must never occur.
    /// </summary>
    private static void AssertFollows(double[] exact, int[] counts)
    {
        int runs = counts.Sum();
        for (int cell = 0; cell < exact.Length; cell++)
            Assert.True(exact[cell] > 0 || counts[cell] == 0, $"continuation {cell} has probability 0 but was drawn {counts[cell]} times");
        var bins = new List<(double Expected, int Observed)>();
        (double Expected, int Observed) pending = (0, 0);
        foreach (int cell in Enumerable.Range(0, exact.Length).Where(c => exact[c] > 0).OrderBy(c => exact[c]))
        {
            pending = (pending.Expected + exact[cell] * runs, pending.Observed + counts[cell]);
            if (pending.Expected < 5) continue;
            bins.Add(pending);
            pending = (0, 0);
        }
        double statistic = bins.Sum(b => (b.Observed - b.Expected) * (b.Observed - b.Expected) / b.Expected);
        int freedom = bins.Count - 1;
        double critical = ChiSquareQuantile(freedom, upperNormalQuantile: 4.753);   // P(Z > 4.753) = 1e-6
        Assert.True(statistic < critical, $"chi-square {statistic:F1} over {freedom} degrees of freedom, critical value {critical:F1}; " +
            $"expected vs observed: {string.Join(", ", bins.Select(b => $"{b.Expected:F0}/{b.Observed}"))}");
    }

    /// <summary>The chi-square distribution's quantile by the Wilson–Hilferty cube-root normal approximation
    /// (Johnson, Kotz and Balakrishnan, Continuous Univariate Distributions, vol. 1, §18.5).</summary>
    private static double ChiSquareQuantile(int freedom, double upperNormalQuantile)
    {
        double a = 2.0 / (9 * freedom);
        return freedom * Math.Pow(1 - a + upperNormalQuantile * Math.Sqrt(a), 3);
    }
}
