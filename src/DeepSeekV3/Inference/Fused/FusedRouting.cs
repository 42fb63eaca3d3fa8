using DeepSeekV3.Configuration;

namespace DeepSeekV3.Inference;

/// <summary>
/// The DeepSeekMoE gate for one token on raw logits, the same rule as <see cref="Modeling.Router"/>: affinities
/// (sigmoid, or softmax for V2), the correction bias only for choosing (eq. 16), group-limited selection, weights
/// from the unbiased affinities, renormalized and scaled.
/// </summary>
internal static unsafe class FusedRouting
{
    public static void Route(ModelConfig config, float* logits, int experts, float[]? correctionBias,
        Span<int> chosen, Span<float> weights)
    {
        Span<float> scores = stackalloc float[experts];
        Span<float> choice = stackalloc float[experts];
        if (config.ScoringFunc == "sigmoid")
            for (int e = 0; e < experts; e++) scores[e] = 1f / (1f + MathF.Exp(-logits[e]));
        else
        {
            float max = float.NegativeInfinity, sum = 0;
            for (int e = 0; e < experts; e++) max = MathF.Max(max, logits[e]);
            for (int e = 0; e < experts; e++) sum += scores[e] = MathF.Exp(logits[e] - max);
            for (int e = 0; e < experts; e++) scores[e] /= sum;
        }
        for (int e = 0; e < experts; e++) choice[e] = scores[e] + (correctionBias?[e] ?? 0f);
        if (config.NGroup > 1 && config.TopkMethod is "noaux_tc" or "group_limited_greedy")
            KeepTopGroups(config, choice);

        int k = chosen.Length;
        float total = 0;
        for (int j = 0; j < k; j++)
        {
            int best = ArgMax(choice);
            chosen[j] = best;
            choice[best] = float.NegativeInfinity;
            total += weights[j] = scores[best];
        }
        float normalizer = config.NormTopkProb ? total + 1e-20f : 1f;
        for (int j = 0; j < k; j++)
            weights[j] = weights[j] / normalizer * (float)config.RoutedScalingFactor;
    }

    /// <summary>Masks (−inf) the experts outside the topk_group groups with the best top-2 sum (V3) or max (V2).</summary>
    private static void KeepTopGroups(ModelConfig config, Span<float> choice)
    {
        int groups = config.NGroup, perGroup = choice.Length / groups;
        Span<float> groupScore = stackalloc float[groups];
        for (int g = 0; g < groups; g++)
        {
            var members = choice.Slice(g * perGroup, perGroup);
            float first = float.NegativeInfinity, second = float.NegativeInfinity;
            foreach (float v in members)
            {
                if (v > first) (first, second) = (v, first);
                else if (v > second) second = v;
            }
            groupScore[g] = config.TopkMethod == "noaux_tc" ? first + second : first;
        }
        Span<bool> keep = stackalloc bool[groups];
        for (int j = 0; j < config.TopkGroup; j++)
        {
            int best = ArgMax(groupScore);
            keep[best] = true;
            groupScore[best] = float.NegativeInfinity;
        }
        for (int g = 0; g < groups; g++)
            if (!keep[g]) choice.Slice(g * perGroup, perGroup).Fill(float.NegativeInfinity);
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
