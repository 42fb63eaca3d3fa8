using System.Text.Json.Serialization;

namespace DeepSeekV3.Configuration;

/// <summary>
/// The <c>rope_scaling</c> block of a DeepSeek config.json (YaRN, report §4.3;
/// docs/reference-notes.md#yarn). DeepSeek-V3 ships
/// <c>{type: "yarn", factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1,
/// mscale: 1.0, mscale_all_dim: 1.0}</c>; V2-Lite uses mscale = mscale_all_dim = 0.707.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>HF writes "type" in older configs and "rope_type" in newer ones; either may be present.</summary>
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }
    [JsonPropertyName("factor")] public double Factor { get; init; } = 1.0;
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositionEmbeddings { get; init; } = 4096;
    [JsonPropertyName("beta_fast")] public double BetaFast { get; init; } = 32;
    [JsonPropertyName("beta_slow")] public double BetaSlow { get; init; } = 1;
    [JsonPropertyName("mscale")] public double Mscale { get; init; } = 1.0;
    [JsonPropertyName("mscale_all_dim")] public double MscaleAllDim { get; init; }

    [JsonIgnore] public string Kind => RopeType ?? Type ?? "default";
}
