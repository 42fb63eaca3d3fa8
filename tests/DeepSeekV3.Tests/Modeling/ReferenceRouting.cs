using DeepSeekV3.Configuration;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>
/// DeepSeekMoE expert selection for one token, written out with plain loops in double precision (report §2.1.2,
/// eqs. 13-16; DeepSeek's inference/model.py <c>Gate</c>), as an expectation independent of <c>Router</c>.
/// </summary>
internal static class ReferenceRouting
{
    /// <summary>s_{i,t}: sigmoid of each logit (V3) or a softmax over all experts (V2).</summary>
    public static double[] Scores(ModelConfig c, double[] logits)
    {
        if (c.ScoringFunc == ScoringFunction.Sigmoid)
            return logits.Select(u => 1 / (1 + Math.Exp(-u))).ToArray();
        double max = logits.Max();
        double total = logits.Sum(u => Math.Exp(u - max));
        return logits.Select(u => Math.Exp(u - max) / total).ToArray();
    }

    /// <summary>
    /// Node-limited routing: choice = s + b (eq. 16; b only under noaux_tc); a group's score is the sum of its top-2
    /// choices (noaux_tc) or its maximum (group_limited_greedy); the topk_group best groups are kept and the K best
    /// choices inside them win. Plain greedy top-K when the config has one group or topk_method = greedy.
    /// Returns the kept groups and the chosen experts, each sorted ascending.
    /// </summary>
    public static (int[] Groups, int[] Experts) Choose(ModelConfig c, double[] scores, double[] bias)
    {
        int e = c.NRoutedExperts, perGroup = e / c.NGroup;
        var choice = new double[e];
        for (int i = 0; i < e; i++)
            choice[i] = scores[i] + (c.TopkMethod == TopkMethod.NoauxTc ? bias[i] : 0);

        int[] groups = Enumerable.Range(0, c.NGroup).ToArray();
        if (c.NGroup > 1 && c.TopkMethod != TopkMethod.Greedy)
        {
            var groupScore = new double[c.NGroup];
            for (int g = 0; g < c.NGroup; g++)
            {
                var members = choice.Skip(g * perGroup).Take(perGroup).OrderByDescending(x => x).ToArray();
                groupScore[g] = c.TopkMethod == TopkMethod.NoauxTc ? members[0] + members[1] : members[0];
            }
            groups = groups.OrderByDescending(g => groupScore[g]).Take(c.TopkGroup).Order().ToArray();
        }
        int[] experts = Enumerable.Range(0, e).Where(i => groups.Contains(i / perGroup))
            .OrderByDescending(i => choice[i]).Take(c.NumExpertsPerTok).Order().ToArray();
        return (groups, experts);
    }

    /// <summary>Gate values g of the chosen experts (eqs. 13-15): unbiased s, renormalized if norm_topk_prob, times
    /// routed_scaling_factor.</summary>
    public static double[] Weights(ModelConfig c, double[] scores, int[] experts)
    {
        double sum = experts.Sum(i => scores[i]);
        return experts.Select(i => (c.NormTopkProb ? scores[i] / sum : scores[i]) * c.RoutedScalingFactor).ToArray();
    }
}
