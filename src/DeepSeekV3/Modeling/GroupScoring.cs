namespace DeepSeekV3.Modeling;

/// <summary>How group-limited routing ranks the expert groups before keeping the best topk_group of them.</summary>
public enum GroupScoring
{
    /// <summary>No group limit: top-K over every expert (topk_method greedy, or a single group).</summary>
    None,

    /// <summary>A group's best expert (DeepSeek-V2's group_limited_greedy).</summary>
    BestExpert,

    /// <summary>The sum of a group's two best experts (DeepSeek-V3's noaux_tc, node-limited routing, report §2.1.2).</summary>
    TopTwoSum,
}
