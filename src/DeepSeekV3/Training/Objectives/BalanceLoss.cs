using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Objectives;

/// <summary>
/// The balance loss of report eqs. (17)-(20), for one MoE layer: L = α Σ_i f_i P_i with
/// f_i = N_r/(K_r T) Σ_t 1[expert i routed for token t] and P_i = (1/T) Σ_t s'_{i,t}, s' = s / Σ_j s_{j,t}.
/// <para>
/// Which selection the indicator counts (docs/reference-notes.md#balance-loss-indicator): eq. (18) writes TopK over the unbiased affinities s, but the
/// quantity to balance is the load the experts actually receive, so we count the router's actual choice — the
/// bias-adjusted, group-limited top-K (<see cref="Modeling.RouterOutput.Indices"/>). f carries no gradient; the
/// gradient flows through P into the router weights.
/// </para>
/// </summary>
public static class BalanceLoss
{
    /// <summary>
    /// scores: [N, E] unbiased affinities (attached to autograd); indices: [N, K] routed experts; N = sequences ·
    /// tokensPerSequence. Sequence-wise (per sequence T = its tokens, averaged over sequences) or batch-wise (T = N).
    /// Returns a scalar (without α).
    /// </summary>
    public static Tensor Compute(Tensor scores, Tensor indices, long sequences, bool sequenceWise)
    {
        using var scope = NewDisposeScope();
        long experts = scores.shape[1], topK = indices.shape[1];
        long groups = sequenceWise ? sequences : 1;
        var s = scores.view(groups, -1, experts);                                          // [G, T, E]
        long tokens = s.shape[1];
        var normalized = s / s.sum(-1, keepdim: true);                                     // s'_{i,t}, eq. (19)
        var p = normalized.mean([1]);                                                      // P_i, eq. (20) [G, E]
        var picks = indices.reshape(groups, tokens * topK);                                // [G, T·K]
        var routed = zeros(groups, experts, ScalarType.Float32, scores.device)
            .scatter_add_(1, picks, ones(picks.shape, ScalarType.Float32, scores.device));  // Σ_t 1[i routed]
        var f = routed * ((double)experts / (topK * tokens));                              // f_i, eq. (18) [G, E]
        return (f * p).sum(-1).mean().MoveToOuterDisposeScope();                           // eq. (17), mean over G
    }
}
