using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Grpo;

/// <summary>One line of a GRPO run's <c>metrics.jsonl</c>.</summary>
public sealed record GrpoStepMetrics
{
    [JsonPropertyName("step")] public long Step { get; init; }
    [JsonPropertyName("reward")] public double Reward { get; init; }
    [JsonPropertyName("reward_std")] public double RewardStd { get; init; }
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }
    [JsonPropertyName("well_formed")] public double WellFormed { get; init; }
    [JsonPropertyName("kl")] public double Kl { get; init; }
    [JsonPropertyName("completion_length")] public double CompletionLength { get; init; }
    [JsonPropertyName("clipped")] public double ClippedShare { get; init; }
    [JsonPropertyName("loss")] public double Loss { get; init; }
    [JsonPropertyName("grad_norm")] public double GradNorm { get; init; }
    [JsonPropertyName("lr")] public double LearningRate { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("sample")] public string Sample { get; init; } = "";
}
