using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// The acceptance rule of speculative sampling (Leviathan et al. 2023; Chen et al. 2023), which keeps the output
/// distribution exactly the target model's: a draft token d drawn from q is kept with probability min(1, p(d)/q(d));
/// otherwise the token is drawn from the residual norm(max(0, p − q)). With greedy (one-hot) p and q this reduces to
/// "keep d iff it is the target's argmax, else take the argmax".
/// </summary>
public static class SpeculativeSampling
{
    /// <summary>Probability of keeping <paramref name="draft"/>: min(1, p(d) / q(d)).</summary>
    public static double AcceptanceProbability(Tensor target, Tensor draftDistribution, long draft)
    {
        double p = target[draft].item<float>(), q = draftDistribution[draft].item<float>();
        return q <= 0 ? 1.0 : Math.Min(1.0, p / q);
    }

    /// <summary>norm(max(0, p − q)): what to draw from after a rejection. The caller owns the result.</summary>
    public static Tensor Residual(Tensor target, Tensor draftDistribution)
    {
        using var scope = NewDisposeScope();
        var residual = (target - draftDistribution).clamp_min(Scalars.Zero);
        double mass = residual.sum().item<float>();
        // p == q leaves no residual mass; a rejection is then impossible, but guard against rounding.
        return (mass > 0 ? residual / mass : target.clone()).MoveToOuterDisposeScope();
    }

    /// <summary>Accepts or replaces <paramref name="draft"/> using <paramref name="sampler"/>'s randomness.</summary>
    public static (bool Accepted, long Token) Verify(Tensor target, Tensor draftDistribution, long draft, Sampler sampler)
    {
        if (sampler.Parameters.IsGreedy)
        {
            long best = target.argmax().item<long>();
            return (best == draft, best);
        }
        if (sampler.Uniform() < AcceptanceProbability(target, draftDistribution, draft))
            return (true, draft);
        using var residual = Residual(target, draftDistribution);
        return (false, sampler.Draw(residual));
    }
}
