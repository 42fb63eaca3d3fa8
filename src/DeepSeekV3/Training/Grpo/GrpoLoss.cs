using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Grpo;

/// <summary>
/// The GRPO objective (DeepSeekMath eq. 3; report §5.2.2), to be minimized:
/// L = −(1/G) Σ_i (1/|o_i|) Σ_t [ min(ρ_{i,t} A_i, clip(ρ_{i,t}, 1−ε, 1+ε) A_i) − β D_KL ], with the per-token ratio
/// ρ = π_θ(o_t | q, o_&lt;t) / π_old(o_t | q, o_&lt;t) and the KL to the frozen reference by the unbiased, always
/// positive k3 estimator D_KL = π_ref/π_θ − log(π_ref/π_θ) − 1 (DeepSeekMath eq. 4; Schulman, "Approximating KL
/// divergence", http://joschu.net/blog/kl-approx.html).
/// </summary>
public static class GrpoLoss
{
    /// <summary>The loss (attached to autograd through <paramref name="logProbs"/>) and detached statistics.</summary>
    /// <param name="logProbs">log π_θ of each completion token, [rows, length] (rows = completions).</param>
    /// <param name="oldLogProbs">log π_old, the policy that sampled the completions, [rows, length].</param>
    /// <param name="referenceLogProbs">log π_ref, [rows, length].</param>
    /// <param name="advantages">A_i, [rows].</param>
    /// <param name="mask">1 on completion tokens, 0 on padding, [rows, length].</param>
    public static GrpoLossParts Compute(Tensor logProbs, Tensor oldLogProbs, Tensor referenceLogProbs, Tensor advantages,
        Tensor mask, double clip, double beta)
    {
        using var scope = NewDisposeScope();
        var ratio = (logProbs - oldLogProbs).exp();                                       // ρ_{i,t}
        var a = advantages.unsqueeze(1);
        using Scalar low = (1 - clip).ToScalar(), high = (1 + clip).ToScalar(), clipScalar = clip.ToScalar();
        var surrogate = minimum(ratio * a, ratio.clamp(low, high) * a);
        var logReferenceRatio = referenceLogProbs - logProbs;                             // log(π_ref / π_θ)
        var kl = logReferenceRatio.exp() - logReferenceRatio - 1;                         // k3, ≥ 0
        var perToken = -(surrogate - kl * beta);
        var lengths = mask.sum(1).clamp_min(Scalars.One);
        var loss = ((perToken * mask).sum(1) / lengths).mean();                           // (1/G) Σ_i (1/|o_i|) Σ_t
        var meanKl = ((kl * mask).sum(1) / lengths).mean();
        var clipped = (ratio - 1).abs().gt(clipScalar).to(ScalarType.Float32);
        var clippedShare = (clipped * mask).sum() / mask.sum().clamp_min(Scalars.One);
        return new GrpoLossParts(loss.MoveToOuterDisposeScope(), meanKl.item<float>(), clippedShare.item<float>());
    }
}

/// <summary>The GRPO loss of a batch of completions (the caller owns <see cref="Loss"/>), the mean per-completion KL
/// to the reference, and the share of completion tokens whose ratio left [1−ε, 1+ε].</summary>
public sealed record GrpoLossParts(Tensor Loss, double Kl, double ClippedShare) : IDisposable
{
    public void Dispose() => Loss.Dispose();
}
