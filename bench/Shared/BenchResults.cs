using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeekV3.IO;

namespace DeepSeekV3.Bench;

/// <summary>
/// Where a benchmark run's result goes: to <c>bench/results/runs/NAME-yyyyMMdd-HHmmss.json</c> (git-ignored, one file
/// per run) and, as the same document, to the canonical <c>bench/results/NAME.json</c> (kept in git and cited by the
/// README; one file per benchmark and configuration, always the latest run). Both record the machine (CPU model,
/// cores, OS, .NET) and the load average before and after the run: on a shared machine other tenants' work moves
/// the timings, so a reader needs to know how busy it was. Create one at the start of the run.
/// </summary>
internal sealed class BenchResults
{
    private readonly DateTime _started = DateTime.UtcNow;

    /// <summary>The 1/5/15-minute load averages when the run started.</summary>
    public string LoadBefore { get; } = LoadAverage();

    /// <summary>
    /// Writes <paramref name="result"/> (an object serializing to a JSON object) under the run's file name and as the
    /// canonical <paramref name="name"/>.json, each atomically (temp file + rename). Returns the canonical path.
    /// </summary>
    public string Save(string name, object result)
    {
        var document = new JsonObject
        {
            ["benchmark"] = name,
            ["started_utc"] = _started.ToString("O", CultureInfo.InvariantCulture),
            ["finished_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["machine"] = new JsonObject
            {
                ["cpu"] = CpuModel(),
                ["cores"] = Environment.ProcessorCount,
                ["os"] = RuntimeInformation.OSDescription,
                ["dotnet"] = RuntimeInformation.FrameworkDescription,
            },
            ["load_average"] = new JsonObject { ["before"] = LoadBefore, ["after"] = LoadAverage() },
        };
        var body = JsonSerializer.SerializeToNode(result) as JsonObject
            ?? throw new ArgumentException($"{name}: the result must serialize to a JSON object", nameof(result));
        foreach (var (key, value) in body.ToList())
        {
            body.Remove(key);
            document[key] = value;
        }
        string text = document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        string stamp = _started.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        string canonical = BenchPaths.Result($"{name}.json");
        AtomicFile.WriteAllText(BenchPaths.Result(Path.Combine("runs", $"{name}-{stamp}.json")), text);
        AtomicFile.WriteAllText(canonical, text);
        return canonical;
    }

    /// <summary>"1.23 0.98 0.75" (1, 5 and 15 minutes), or "n/a" where /proc/loadavg does not exist.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static string CpuModel()
    {
        string? line = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
            : null;
        return line?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
    }
}
