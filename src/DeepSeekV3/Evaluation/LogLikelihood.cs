using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Evaluation;

/// <summary>
/// log P(continuation | context) for many (context, continuation) token pairs, as lm-evaluation-harness's
/// <c>loglikelihood</c>: requests are sorted longest first and scored in batches of right-padded rows (causal
/// attention never lets a row's padding reach its real tokens, and routing is per token, so padding changes
/// nothing); results come back in request order. Greedy says whether every continuation token was the argmax.
/// </summary>
public sealed class LogLikelihood(DeepSeekV3ForCausalLM model, int batchSize)
{
    public readonly record struct Request(long[] Context, long[] Continuation);

    public readonly record struct Score(double LogProbability, bool Greedy, int Tokens);

    /// <param name="scored">Called with the number of requests finished so far, after each batch.</param>
    public Score[] Run(IReadOnlyList<Request> requests, Action<int>? scored = null)
    {
        foreach (var r in requests)
            if (r.Context.Length == 0 || r.Continuation.Length == 0)
                throw new ArgumentException("every request needs at least one context and one continuation token", nameof(requests));
        var order = Enumerable.Range(0, requests.Count)
            .OrderByDescending(i => requests[i].Context.Length + requests[i].Continuation.Length).ThenBy(i => i).ToArray();
        var scores = new Score[requests.Count];
        bool training = model.training;
        model.eval();
        using (no_grad())
        {
            for (int start = 0; start < order.Length; start += batchSize)
            {
                var batch = order.AsSpan(start, Math.Min(batchSize, order.Length - start)).ToArray();
                ScoreBatch(requests, batch, scores);
                scored?.Invoke(start + batch.Length);
            }
        }
        if (training) model.train();
        return scores;
    }

    private void ScoreBatch(IReadOnlyList<Request> requests, int[] batch, Score[] scores)
    {
        using var scope = NewDisposeScope();
        int width = batch.Max(i => requests[i].Context.Length + requests[i].Continuation.Length) - 1;
        var inputs = new long[batch.Length * width];
        var targets = new long[batch.Length * width];
        var mask = new float[batch.Length * width];
        for (int row = 0; row < batch.Length; row++)
        {
            var (context, continuation) = requests[batch[row]];
            long[] all = [.. context, .. continuation];
            for (int p = 0; p < all.Length - 1; p++)
            {
                inputs[row * width + p] = all[p];
                targets[row * width + p] = all[p + 1];
                mask[row * width + p] = p + 1 >= context.Length ? 1 : 0;                   // predicts a continuation token
            }
        }
        var logits = model.Forward(tensor(inputs, [batch.Length, width]), new ForwardContext { Mode = AttentionMode.Naive }).Logits
            .to(ScalarType.Float32);                                                        // [b, width, V]
        var target = tensor(targets, [batch.Length, width]);
        var scored = tensor(mask, [batch.Length, width]);
        var tokenLogProb = logits.log_softmax(-1).gather(2, target.unsqueeze(2)).squeeze(2); // [b, width]
        var sums = (tokenLogProb * scored).sum(1).data<float>().ToArray();
        var greedy = logits.argmax(-1).eq(target).logical_or(scored.eq(Scalars.Zero)).all(1).data<bool>().ToArray();
        for (int row = 0; row < batch.Length; row++)
            scores[batch[row]] = new Score(sums[row], greedy[row], requests[batch[row]].Continuation.Length);
    }
}
