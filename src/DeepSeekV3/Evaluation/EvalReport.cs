using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace DeepSeekV3.Evaluation;

/// <summary>One task's result: the metrics by name (perplexity: <c>perplexity</c>, <c>bits_per_byte</c>,
/// <c>nll_per_token</c>; choice: <c>acc</c>, <c>acc_norm</c>; exact match: <c>exact_match</c>, <c>answered</c>) and
/// the standard error of each accuracy, √(p(1−p)/(n−1)), as lm-evaluation-harness reports it.</summary>
public sealed record EvalReport
{
    [JsonPropertyName("task")] public required string Task { get; init; }
    [JsonPropertyName("file")] public required string File { get; init; }
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("items")] public int Items { get; init; }
    [JsonPropertyName("shots")] public int Shots { get; init; }
    [JsonPropertyName("chat")] public bool Chat { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("metrics")] public Dictionary<string, double> Metrics { get; init; } = [];
    [JsonPropertyName("stderr")] public Dictionary<string, double> StandardErrors { get; init; } = [];

    /// <summary>Answers generated in exact-match tasks, in item order (empty for the other kinds).</summary>
    [JsonPropertyName("samples")] public List<EvalSample> Samples { get; init; } = [];

    public static double StandardError(double accuracy, int n) => n < 2 ? 0 : Math.Sqrt(accuracy * (1 - accuracy) / (n - 1));

    /// <summary>A markdown table with one row per metric of every report.</summary>
    public static string Markdown(IEnumerable<EvalReport> reports)
    {
        var text = new StringBuilder("| task | kind | items | shots | metric | value | ± |\n|---|---|---:|---:|---|---:|---:|\n");
        foreach (var r in reports)
            foreach (var (name, value) in r.Metrics)
            {
                string error = r.StandardErrors.TryGetValue(name, out double e) ? e.ToString("F4", CultureInfo.InvariantCulture) : "";
                text.Append(CultureInfo.InvariantCulture, $"| {r.Task} | {r.Kind} | {r.Items} | {r.Shots} | {name} | {value:F4} | {error} |\n");
            }
        return text.ToString();
    }
}
