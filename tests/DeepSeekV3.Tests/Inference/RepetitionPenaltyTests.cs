using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

public class RepetitionPenaltyTests
{
    private static double[] Softmax(double[] logits)
    {
        double max = logits.Max();
        var e = logits.Select(v => Math.Exp(v - max)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    private static double[] Distribution(Sampler sampler, float[] logits)
    {
        using var row = tensor(logits);
        using var d = sampler.Distribution(row);
        return d.data<float>().ToArray().Select(v => (double)v).ToArray();
    }

    [Fact]
    public void Tokens_in_the_window_have_positive_logits_divided_and_negative_ones_multiplied_once_each()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 1, RepetitionPenalty = 2 });
        foreach (long token in new long[] { 0, 1, 0 }) sampler.Remember(token);      // 0 twice: still penalized once
        // By hand: token 0: 2 / 2 = 1; token 1: -1 × 2 = -2; tokens 2-4 not in the window.
        var expected = Softmax([1, -2, 0.5, 3, -0.5]);
        var actual = Distribution(sampler, [2f, -1f, 0.5f, 3f, -0.5f]);
        Assert.Equal(expected.Select(v => Math.Round(v, 5)), actual.Select(v => Math.Round(v, 5)));
    }

    [Fact]
    public void Only_the_last_window_tokens_count()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 1, RepetitionPenalty = 2, RepetitionWindow = 2 });
        foreach (long token in new long[] { 0, 1, 2 }) sampler.Remember(token);      // 0 has left a 2-token window
        var expected = Softmax([1, 0.5, 0.5, 1]);
        var actual = Distribution(sampler, [1f, 1f, 1f, 1f]);
        Assert.Equal(expected.Select(v => Math.Round(v, 5)), actual.Select(v => Math.Round(v, 5)));
    }

    [Fact]
    public void The_penalty_applies_before_greedy_argmax_and_is_off_at_one()
    {
        using var logits = tensor(new[] { 3f, 2.9f });
        var penalized = new Sampler(new SamplingParams { RepetitionPenalty = 1.1 });
        penalized.Remember(0);
        Assert.Equal(1, penalized.Sample(logits));                                  // 3 / 1.1 = 2.727 < 2.9
        var plain = new Sampler(new SamplingParams());
        plain.Remember(0);
        Assert.Equal(0, plain.Sample(logits));
    }

    /// <summary>
    /// A hand-made Markov "model" whose greedy path is the loop 0 → 1 → 2 → 0: from 2, token 0 (logit 2.0) beats the
    /// way out, token 3 (1.9). With the penalty 1.1, token 0 is in the window when 2 is reached: 2.0 / 1.1 = 1.818 < 1.9,
    /// so decoding leaves the loop for 3, then 4.
    /// </summary>
    [Fact]
    public void A_greedy_loop_is_left_once_its_tokens_are_penalized()
    {
        float[][] next =
        [
            [0, 2.0f, 0, 0, 0],
            [0, 0, 2.0f, 0, 0],
            [2.0f, 0, 0, 1.9f, 0],
            [0, 0, 0, 0, 2.0f],
            [0, 0, 0, 0, 2.0f],
        ];
        long[] Decode(SamplingParams parameters)
        {
            var sampler = new Sampler(parameters);
            var tokens = new List<long> { 0 };
            sampler.Remember(0);
            for (int step = 0; step < 6; step++)
            {
                using var logits = tensor(next[tokens[^1]]);
                long token = sampler.Sample(logits);
                sampler.Remember(token);
                tokens.Add(token);
            }
            return tokens.Skip(1).ToArray();
        }
        Assert.Equal([1, 2, 0, 1, 2, 0], Decode(new SamplingParams()));
        // After 3 comes 4, and 4 again: 2.0 / 1.1 still beats every 0 logit.
        Assert.Equal([1, 2, 3, 4, 4, 4], Decode(new SamplingParams { RepetitionPenalty = 1.1 }));
    }

    [Fact]
    public void The_engine_applies_the_penalty_over_prompt_and_output_like_a_plain_full_forward_loop()
    {
        using var model = TinyModels.Create();
        var engine = new GenerationEngine(model, blockSize: 4);
        var sampling = new SamplingParams { MaxTokens = 20, IgnoreEos = true, RepetitionPenalty = 1.5, RepetitionWindow = 16 };
        long[] prompt = TinyModels.Prompt(10, 1);
        var tokens = engine.Generate([new GenerationRequest(prompt, sampling)])[0].Tokens;

        // Reference: every step a full forward pass over the whole context, the penalty applied by hand to the distinct
        // tokens among the last 16 of the context (EOS excepted), then argmax.
        var context = prompt.ToList();
        var expected = new List<long>();
        using (no_grad())
            for (int step = 0; step < sampling.MaxTokens; step++)
            {
                using var scope = NewDisposeScope();
                float[] logits = model.Forward(tensor(context.ToArray()).unsqueeze(0)).Logits[0, -1].data<float>().ToArray();
                foreach (long token in context.TakeLast(16).Where(t => t != model.Config.EosTokenId).Distinct())
                    logits[token] = logits[token] > 0 ? logits[token] / 1.5f : logits[token] * 1.5f;
                long best = Array.IndexOf(logits, logits.Max());
                expected.Add(best);
                context.Add(best);
            }
        Assert.Equal(expected, tokens);
        // The penalty changed something: otherwise this test would not tell it was applied.
        var plain = GreedyDecoder.Generate(model, prompt, sampling.MaxTokens);
        Assert.True(!plain.SequenceEqual(tokens), $"plain {string.Join(",", plain)} penalized {string.Join(",", tokens)} prompt {string.Join(",", prompt)}");
    }
}
