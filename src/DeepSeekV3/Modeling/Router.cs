using DeepSeekV3.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The DeepSeekMoE gate (report eqs. 12-16; <c>Gate</c> in DeepSeek's inference/model.py). Affinities s = sigmoid(u·e) (V3) or softmax (V2); a per-expert
/// correction bias b, used ONLY to choose experts (auxiliary-loss-free balancing, eq. 16); group-limited selection
/// keeps the topk_group groups with the highest sum of their top-2 biased affinities (node-limited routing, §2.1.2);
/// weights come from the unbiased affinities, renormalized over the K chosen, times routed_scaling_factor.
/// Every token keeps all K experts: no capacity limit, no dropping. Computed in fp32 (as HF does).
/// Checkpoint names: <c>weight</c> [E, hidden], <c>e_score_correction_bias</c> [E] (fp32, a buffer: never trained
/// by the optimizer; the trainer updates it by the sign rule).
/// </summary>
public sealed class Router : nn.Module
{
    public Router(ModelConfig config) : base(nameof(Router))
    {
        Rule = new RoutingRule(config);
        register_parameter("weight", nn.Parameter(empty(config.NRoutedExperts, config.HiddenSize)));
        if (Rule.UsesCorrectionBias)
            register_buffer("e_score_correction_bias", zeros(config.NRoutedExperts, ScalarType.Float32));
    }

    /// <summary>The rule this router applies (shared with the fused decoder's per-token routing).</summary>
    public RoutingRule Rule { get; }

    // Looked up by name: Module.to() replaces parameters and buffers, so stored references would go stale.
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>b_i of eq. (16); null for V2-style routers. Always fp32, whatever the model's dtype.</summary>
    public Tensor? ExpertScoreCorrectionBias => Rule.UsesCorrectionBias ? get_buffer("e_score_correction_bias") : null;

    /// <summary>Moving the model to bf16 must not round the bias: 0.001-sized updates would vanish (docs/reference-notes.md#router-precision-and-the-correction-bias).</summary>
    protected override void _toEpilog(ScalarType? dtype, Device? device, bool non_blocking)
    {
        base._toEpilog(dtype, device, non_blocking);
        if (ExpertScoreCorrectionBias is { } bias && bias.dtype != ScalarType.Float32)
        {
            ConditionallyRegisterBuffer("e_score_correction_bias", bias.to(ScalarType.Float32).DetachFromDisposeScope());
            bias.Dispose();
        }
    }

    /// <summary>x: [N, hidden]. The caller owns the returned tensors.</summary>
    public RouterOutput Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = nn.functional.linear(x.to(ScalarType.Float32), Weight.to(ScalarType.Float32));   // [N, E]
        var scores = Rule.Scoring == ScoringFunction.Sigmoid ? logits.sigmoid() : logits.softmax(-1);

        var choice = scores.detach();
        if (ExpertScoreCorrectionBias is { } bias)
            choice = choice + bias.to(ScalarType.Float32);                                          // eq. (16)
        if (Rule.GroupScoring != GroupScoring.None)
            choice = KeepTopGroups(choice);

        var indices = choice.topk(Rule.ExpertsPerToken, dim: -1).indexes;                        // [N, K]
        var weights = scores.gather(-1, indices);                                                  // unbiased s
        if (Rule.NormalizeWeights)
            weights = weights / (weights.sum(-1, keepdim: true) + 1e-20);
        weights = weights * Rule.ScalingFactor;
        return new RouterOutput(weights.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope(),
                                scores.MoveToOuterDisposeScope());
    }

    /// <summary>Masks (−inf) every expert outside the topk_group best groups (report §2.1.2, node-limited routing; −inf: docs/reference-notes.md#group-mask-fill).</summary>
    private Tensor KeepTopGroups(Tensor choice)
    {
        long tokens = choice.shape[0];
        var grouped = choice.view(tokens, Rule.Groups, -1);                                         // [N, G, E/G]
        var groupScore = Rule.GroupScoring == GroupScoring.TopTwoSum
            ? grouped.topk(2, dim: -1).values.sum(-1)                                                // top-2 sum
            : grouped.amax([-1]);                                                                    // V2: max
        var keptGroups = groupScore.topk(Rule.KeptGroups, dim: -1).indexes;                       // [N, TG]
        var keep = zeros_like(groupScore, dtype: ScalarType.Bool).scatter(-1, keptGroups, ones_like(keptGroups, dtype: ScalarType.Bool));
        var expertKeep = keep.unsqueeze(-1).expand_as(grouped).reshape(tokens, -1);                 // [N, E]
        return choice.masked_fill(expertKeep.logical_not(), Scalars.NegativeInfinity);
    }

    /// <summary>Replaces the correction bias (the trainer's sign-rule update, or a checkpoint load).</summary>
    public void SetCorrectionBias(Tensor values)
    {
        if (ExpertScoreCorrectionBias is null)
            throw new InvalidOperationException("this router has no correction bias (topk_method is not noaux_tc)");
        using var _ = no_grad();
        ExpertScoreCorrectionBias.copy_(values);
    }
}
