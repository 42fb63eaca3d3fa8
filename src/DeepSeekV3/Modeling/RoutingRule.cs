using DeepSeekV3.Configuration;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The DeepSeekMoE gate's rule (report eqs. 12-16), decided once from the config: affinities s from the router logits
/// (sigmoid for V3, softmax for V2); the correction bias b only to choose experts (eq. 16, auxiliary-loss-free
/// balancing); group-limited selection keeps the topk_group best groups and masks the rest with −inf, so a negative
/// bias cannot lift a masked expert above a kept one; the K chosen experts' weights come from the unbiased s,
/// renormalized over the K (norm_topk_prob) and scaled by routed_scaling_factor.
/// <para>
/// <see cref="Router"/> applies it to a batch of tokens with tensor ops; <see cref="Route"/> applies it to one
/// token's logits on spans (the fused decoder). Both read their decisions from here, and a test holds them equal.
/// </para>
/// </summary>
public sealed record RoutingRule
{
    public RoutingRule(ModelConfig config)
    {
        Experts = config.NRoutedExperts;
        ExpertsPerToken = config.NumExpertsPerTok;
        Scoring = config.ScoringFunc;
        Groups = config.NGroup;
        KeptGroups = config.TopkGroup;
        GroupScoring = config.NGroup <= 1 ? GroupScoring.None : config.TopkMethod switch
        {
            TopkMethod.NoauxTc => GroupScoring.TopTwoSum,
            TopkMethod.GroupLimitedGreedy => GroupScoring.BestExpert,
            _ => GroupScoring.None,
        };
        UsesCorrectionBias = config.UsesCorrectionBias;
        NormalizeWeights = config.NormTopkProb;
        ScalingFactor = config.RoutedScalingFactor;
    }

    /// <summary>n_routed_experts.</summary>
    public int Experts { get; }

    /// <summary>K, num_experts_per_tok.</summary>
    public int ExpertsPerToken { get; }

    public ScoringFunction Scoring { get; }

    /// <summary>n_group.</summary>
    public int Groups { get; }

    /// <summary>topk_group: the groups a token's experts may come from.</summary>
    public int KeptGroups { get; }

    public GroupScoring GroupScoring { get; }

    /// <summary>The router keeps b_i of eq. (16) (topk_method noaux_tc).</summary>
    public bool UsesCorrectionBias { get; }

    /// <summary>norm_topk_prob: the K weights are divided by their sum (plus 1e-20, as HF does).</summary>
    public bool NormalizeWeights { get; }

    /// <summary>routed_scaling_factor.</summary>
    public double ScalingFactor { get; }

    /// <summary>
    /// One token: logits [experts] → the K chosen experts (in the order top-K returns them: best first, the lower
    /// index among equals) and their weights. <paramref name="correctionBias"/> is empty when the router has none.
    /// </summary>
    public void Route(ReadOnlySpan<float> logits, ReadOnlySpan<float> correctionBias, Span<int> chosen, Span<float> weights)
    {
        int experts = logits.Length;
        Span<float> scores = stackalloc float[experts];
        Span<float> choice = stackalloc float[experts];
        Affinities(logits, scores);
        for (int e = 0; e < experts; e++) choice[e] = scores[e] + (correctionBias.IsEmpty ? 0f : correctionBias[e]);
        if (GroupScoring != GroupScoring.None)
            KeepTopGroups(choice);

        float total = 0;
        for (int j = 0; j < chosen.Length; j++)
        {
            int best = ArgMax(choice);
            chosen[j] = best;
            choice[best] = float.NegativeInfinity;
            total += weights[j] = scores[best];
        }
        float normalizer = NormalizeWeights ? total + 1e-20f : 1f;
        for (int j = 0; j < chosen.Length; j++)
            weights[j] = weights[j] / normalizer * (float)ScalingFactor;
    }

    /// <summary>s_i of eq. (15) (sigmoid) or DeepSeek-V2's softmax over the experts.</summary>
    private void Affinities(ReadOnlySpan<float> logits, Span<float> scores)
    {
        if (Scoring == ScoringFunction.Sigmoid)
        {
            for (int e = 0; e < logits.Length; e++) scores[e] = 1f / (1f + MathF.Exp(-logits[e]));
            return;
        }
        float max = float.NegativeInfinity, sum = 0;
        foreach (float v in logits) max = MathF.Max(max, v);
        for (int e = 0; e < logits.Length; e++) sum += scores[e] = MathF.Exp(logits[e] - max);
        for (int e = 0; e < logits.Length; e++) scores[e] /= sum;
    }

    /// <summary>Sets every expert outside the <see cref="KeptGroups"/> best groups to −inf.</summary>
    private void KeepTopGroups(Span<float> choice)
    {
        int perGroup = choice.Length / Groups;
        Span<float> groupScore = stackalloc float[Groups];
        for (int g = 0; g < Groups; g++)
            groupScore[g] = GroupScore(choice.Slice(g * perGroup, perGroup));
        Span<bool> keep = stackalloc bool[Groups];
        for (int j = 0; j < KeptGroups; j++)
        {
            int best = ArgMax(groupScore);
            keep[best] = true;
            groupScore[best] = float.NegativeInfinity;
        }
        for (int g = 0; g < Groups; g++)
            if (!keep[g]) choice.Slice(g * perGroup, perGroup).Fill(float.NegativeInfinity);
    }

    private float GroupScore(ReadOnlySpan<float> members)
    {
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (float v in members)
        {
            if (v > first) (first, second) = (v, first);
            else if (v > second) second = v;
        }
        return GroupScoring == GroupScoring.TopTwoSum ? first + second : first;
    }

    /// <summary>Index of the largest value; the lowest index among equals.</summary>
    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
