using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// Turns logits into a token: temperature, then top-k, then top-p (nucleus) filtering, then a draw from the
/// sampler's own seeded generator (greedy = argmax). One sampler per request, so seeds reproduce per request.
/// </summary>
public sealed class Sampler : IDisposable
{
    private readonly Generator _generator;

    public Sampler(SamplingParams parameters)
    {
        Parameters = parameters.Validated();
        _generator = new Generator((ulong)(parameters.Seed ?? Random.Shared.NextInt64()));
    }

    public SamplingParams Parameters { get; }

    /// <summary>
    /// The distribution tokens are drawn from, fp32 [vocab] on the CPU: one-hot at the argmax when greedy.
    /// The caller owns it. Speculative decoding compares these distributions, so both models use the same rule.
    /// </summary>
    public Tensor Distribution(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var scores = logits.detach().to(ScalarType.Float32).cpu().flatten();
        if (Parameters.IsGreedy)
            return zeros_like(scores).index_fill_(0, scores.argmax().unsqueeze(0), 1.0).MoveToOuterDisposeScope();
        scores = scores / Parameters.Temperature;
        if (Parameters.TopK > 0 && Parameters.TopK < scores.shape[0])
        {
            var kth = scores.topk(Parameters.TopK).values[-1];
            scores = scores.masked_fill(scores < kth, double.NegativeInfinity);
        }
        var probabilities = scores.softmax(0);
        if (Parameters.TopP < 1)
        {
            var (sorted, order) = probabilities.sort(descending: true);
            // Keep the smallest prefix whose mass reaches top_p: a token stays if the mass before it is < top_p.
            var before = sorted.cumsum(0) - sorted;
            var dropSorted = before >= Parameters.TopP;
            var drop = zeros_like(dropSorted).scatter(0, order, dropSorted);                 // back to vocab order
            probabilities = probabilities.masked_fill(drop, 0);
            probabilities = probabilities / probabilities.sum();
        }
        return probabilities.MoveToOuterDisposeScope();
    }

    /// <summary>Draws one token id from <paramref name="logits"/> [vocab].</summary>
    public long Sample(Tensor logits)
    {
        using var scope = NewDisposeScope();
        if (Parameters.IsGreedy)
            return logits.detach().flatten().argmax().item<long>();
        return Draw(Distribution(logits));
    }

    /// <summary>Draws from a probability vector with this sampler's generator.</summary>
    public long Draw(Tensor probabilities)
    {
        using var scope = NewDisposeScope();
        return multinomial(probabilities, 1, generator: _generator).item<long>();
    }

    /// <summary>A uniform number in [0, 1) from this sampler's generator.</summary>
    public double Uniform()
    {
        using var scope = NewDisposeScope();
        return rand(1, generator: _generator).item<float>();
    }

    public void Dispose() => _generator.Dispose();
}
