using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Data;

/// <summary>One shard: its two files, token and document counts.</summary>
public sealed class ShardEntry
{
    [JsonPropertyName("tokens_file")] public string TokensFile { get; set; } = "";
    [JsonPropertyName("docs_file")] public string DocsFile { get; set; } = "";
    [JsonPropertyName("tokens")] public long Tokens { get; set; }
    [JsonPropertyName("documents")] public long Documents { get; set; }
}
