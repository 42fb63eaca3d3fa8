using System.Text.Json;
using DeepSeekV3.IO;

namespace DeepSeekV3.Training.Metrics;

/// <summary>
/// Appends one JSON object per step to <c>metrics.jsonl</c>, flushed each line. On resume from step k, lines of
/// steps after k (written after the checkpoint, before the interruption) are dropped first, so the file reads as
/// one uninterrupted run.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.jsonl";

    /// <summary>Non-finite values are written as null (see <see cref="FiniteDoubleConverter"/>).</summary>
    private static readonly JsonSerializerOptions Json = new() { Converters = { new FiniteDoubleConverter() } };

    private readonly StreamWriter _writer;

    public MetricsLog(string runDirectory, long resumeStep)
    {
        Directory.CreateDirectory(runDirectory);
        Path = System.IO.Path.Combine(runDirectory, FileName);
        if (File.Exists(Path))
        {
            var kept = File.ReadLines(Path).Where(line => resumeStep > 0 && StepOf(line) <= resumeStep).ToList();
            AtomicFile.WriteAllText(Path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
        }
        _writer = new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public string Path { get; }

    /// <summary>Appends one step's metrics: a pre-training <see cref="StepMetrics"/> or another run's (e.g. GRPO's)
    /// record with a <c>step</c> field.</summary>
    public void Write<T>(T metrics) => _writer.WriteLine(JsonSerializer.Serialize(metrics, Json));

    public static IReadOnlyList<StepMetrics> Read(string path) => Read<StepMetrics>(path);

    public static IReadOnlyList<T> Read<T>(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<T>(l, Json)!).ToList();

    private static long StepOf(string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return long.MaxValue;
        using var json = JsonDocument.Parse(line);
        return json.RootElement.GetProperty("step").GetInt64();
    }

    public void Dispose() => _writer.Dispose();
}
