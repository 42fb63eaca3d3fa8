using System.Text.Json.Serialization;

namespace DeepSeekV3.Configuration;

/// <summary><c>topk_method</c>: how the router picks its top-K experts (report §2.1.2, eq. 16).</summary>
[JsonConverter(typeof(ConfigEnumConverter<TopkMethod>))]
public enum TopkMethod
{
    /// <summary>Plain top-K over every expert (DeepSeek-V2-Lite).</summary>
    [JsonStringEnumMemberName("greedy")] Greedy,

    /// <summary>Top-K inside the topk_group groups with the best single expert each (DeepSeek-V2).</summary>
    [JsonStringEnumMemberName("group_limited_greedy")] GroupLimitedGreedy,

    /// <summary>Top-K of bias-corrected affinities inside the topk_group groups with the best top-2 sum each
    /// (DeepSeek-V3: auxiliary-loss-free balancing with node-limited routing).</summary>
    [JsonStringEnumMemberName("noaux_tc")] NoauxTc,
}
