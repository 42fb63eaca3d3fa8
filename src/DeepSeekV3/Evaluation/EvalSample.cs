using System.Text.Json.Serialization;

namespace DeepSeekV3.Evaluation;

/// <summary>One exact-match item's outcome: the line in the task file, the generated text, the extracted answer and
/// the reference's. For a code task, one sampled completion with its sandbox <see cref="Outcome"/> (the task id in
/// <see cref="Reference"/>).</summary>
public sealed record EvalSample(
    [property: JsonPropertyName("line")] long Line,
    [property: JsonPropertyName("generated")] string Generated,
    [property: JsonPropertyName("extracted")] string? Extracted,
    [property: JsonPropertyName("reference")] string? Reference,
    [property: JsonPropertyName("correct")] bool Correct)
{
    [JsonPropertyName("outcome")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Outcome { get; init; }
}
