using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Grpo;

/// <summary>What a GRPO run achieved: steps, mean reward over the first and the last tenth of the steps (the rise the
/// run is judged by), the same for accuracy, and the final KL and completion length.</summary>
public sealed record GrpoSummary
{
    [JsonPropertyName("steps")] public long Steps { get; init; }
    [JsonPropertyName("mean_reward_first_tenth")] public double MeanRewardFirstTenth { get; init; }
    [JsonPropertyName("mean_reward_last_tenth")] public double MeanRewardLastTenth { get; init; }
    [JsonPropertyName("accuracy_first_tenth")] public double AccuracyFirstTenth { get; init; }
    [JsonPropertyName("accuracy_last_tenth")] public double AccuracyLastTenth { get; init; }
    [JsonPropertyName("kl_last_tenth")] public double KlLastTenth { get; init; }
    [JsonPropertyName("completion_length_last_tenth")] public double CompletionLengthLastTenth { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonIgnore] public string ModelDirectory { get; init; } = "";
    [JsonIgnore] public IReadOnlyList<string> Plots { get; init; } = [];

    public static GrpoSummary Of(IReadOnlyList<GrpoStepMetrics> metrics, string modelDirectory, IReadOnlyList<string> plots)
    {
        int tenth = Math.Max(1, metrics.Count / 10);
        var first = metrics.Take(tenth).ToList();
        var last = metrics.Skip(metrics.Count - tenth).ToList();
        return new GrpoSummary
        {
            Steps = metrics.Count == 0 ? 0 : metrics[^1].Step,
            MeanRewardFirstTenth = first.Average(m => m.Reward),
            MeanRewardLastTenth = last.Average(m => m.Reward),
            AccuracyFirstTenth = first.Average(m => m.Accuracy),
            AccuracyLastTenth = last.Average(m => m.Accuracy),
            KlLastTenth = last.Average(m => m.Kl),
            CompletionLengthLastTenth = last.Average(m => m.CompletionLength),
            Seconds = metrics.Sum(m => m.Seconds),
            ModelDirectory = modelDirectory,
            Plots = plots,
        };
    }
}
