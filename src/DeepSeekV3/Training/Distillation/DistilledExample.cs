using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Distillation;

/// <summary>One teacher completion of a prompt: the question, the completion text (special tokens removed), and
/// whether its answer was right when the prompt had a reference (null: no reference).</summary>
public sealed record DistilledExample(
    [property: JsonPropertyName("question")] string Question,
    [property: JsonPropertyName("completion")] string Completion,
    [property: JsonPropertyName("correct")] bool? Correct);
