using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Data;

/// <summary>The <c>index.json</c> of a <see cref="TokenShardSet"/>.</summary>
public sealed class ShardIndex
{
    [JsonPropertyName("encoder")] public string Encoder { get; set; } = "";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; }
    [JsonPropertyName("sources")] public List<string> Sources { get; set; } = [];
    [JsonPropertyName("total_tokens")] public long TotalTokens { get; set; }
    [JsonPropertyName("shards")] public List<ShardEntry> Shards { get; set; } = [];
}
