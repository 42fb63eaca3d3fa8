using System.Globalization;
using System.Text.Json.Nodes;

namespace DeepSeekV3.Bench;

/// <summary>
/// Ranges over rounds: reads every BigModelBench run written since a time (bench/results/runs/bigmodel-*.json),
/// groups them by pair (the same model in both engines' formats) and engine, and prints each figure's min–max per
/// engine and the min–max of ours / llama.cpp taken round by round (the two engines ran back to back in each round,
/// so a round's ratio compares like conditions). Writes bench/results/bigmodel-summary.json.
/// </summary>
internal static class BigModelSummary
{
    private sealed record Run(string Pair, string Engine, int Round, JsonObject Json);

    /// <summary>Each figure per run: every repeat's value where the run kept them (prefill, decode), else the one value.</summary>
    private static readonly (string Name, Func<JsonObject, double[]> Read)[] Figures =
    [
        ("prefill tok/s", j => j["prefill_seconds"]!.AsArray().Select(s => j["settings"]!["prompt_length"]!.GetValue<int>() / s!.GetValue<double>()).ToArray()),
        ("decode b1 tok/s", j => DecodeRepeats(j, 1, ms => 1e3 / ms)),
        ("decode b4 tok/s", j => DecodeRepeats(j, 4, ms => 4e3 / ms)),
        ("decode b1 GB/s", j => DecodeRepeats(j, 1, ms => Decode(j, 1, "weight_gb_per_step")!.Value / (ms / 1e3))),
        ("b1 % of read bw", j => DecodeRepeats(j, 1, ms => Decode(j, 1, "weight_gb_per_step")!.Value / (ms / 1e3)
                                                            / j["read_bandwidth_gb_per_second"]!["threads"]!.GetValue<double>() * 100)),
        ("load s", j => One(j["load_seconds"])),
        ("first prefill s", j => One(j["first_prefill_seconds"])),
        ("peak RSS GB", j => One(j["resident_bytes"]?["peak"], 1e-9)),
    ];

    public static int Write(DateTime sinceUtc)
    {
        var runs = Directory.EnumerateFiles(Path.Combine(BenchPaths.Results(), "runs"), "bigmodel-*.json")
            .Select(f => JsonNode.Parse(File.ReadAllText(f))!.AsObject())
            .Where(j => j["pair"] is not null
                        && DateTime.Parse(j["started_utc"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal) >= sinceUtc)
            .Select(j => new Run(j["pair"]!.GetValue<string>(), j["engine"]!.GetValue<string>(), j["round"]?.GetValue<int>() ?? 1, j))
            .ToList();
        if (runs.Count == 0)
        {
            Console.Error.WriteLine($"no BigModelBench runs with a pair since {sinceUtc:O} in bench/results/runs");
            return 1;
        }
        var pairs = new JsonObject();
        foreach (var pair in runs.GroupBy(r => r.Pair).OrderBy(g => g.Key))
        {
            var engines = pair.GroupBy(r => r.Engine).ToDictionary(g => g.Key, g => g.ToList());
            string? ours = engines.Keys.FirstOrDefault(e => e.StartsWith("DeepSeekV3.NET", StringComparison.Ordinal));
            string? llama = engines.Keys.FirstOrDefault(e => e.StartsWith("llama.cpp", StringComparison.Ordinal));
            // Ours first, as in the columns below, whichever engine ran first.
            var names = new[] { ours, llama }.OfType<string>().Concat(engines.Keys.Where(e => e != ours && e != llama));
            Console.WriteLine($"\n{pair.Key}: {string.Join(" vs ", names)} ({engines.Values.Max(v => v.Count)} rounds)");
            Console.WriteLine($"  {"figure",-18} {"ours",-22} {"llama.cpp",-22} ours/llama (medians; by round where both ran each round)");
            var figures = new JsonObject();
            foreach (var (name, read) in Figures)
            {
                var mine = Values(ours is null ? [] : engines[ours], read);
                var theirs = Values(llama is null ? [] : engines[llama], read);
                Console.WriteLine($"  {name,-18} {Range(mine),-22} {Range(theirs),-22} {Range(Ratios(engines, ours, llama, read), "×")}");
                figures[name] = new JsonObject
                {
                    ["ours"] = new JsonArray(mine.Select(v => (JsonNode)v).ToArray()),
                    ["llama_cpp"] = new JsonArray(theirs.Select(v => (JsonNode)v).ToArray()),
                    ["ratio"] = new JsonArray(Ratios(engines, ours, llama, read).Select(v => (JsonNode)v).ToArray()),
                };
            }
            pairs[pair.Key] = new JsonObject { ["engines"] = new JsonArray(engines.Keys.Select(k => (JsonNode)k).ToArray()), ["figures"] = figures };
        }
        string file = new BenchResults().Save("bigmodel-summary", new { since_utc = sinceUtc.ToString("O", CultureInfo.InvariantCulture), pairs });
        Console.WriteLine($"\nwrote {file}");
        return 0;
    }

    private static double? Decode(JsonObject run, int batch, string field) =>
        run["decode"]?.AsArray().FirstOrDefault(d => d?["batch"]?.GetValue<int>() == batch)?[field]?.GetValue<double>();

    private static double[] DecodeRepeats(JsonObject run, int batch, Func<double, double> fromStepMs) =>
        run["decode"]?.AsArray().FirstOrDefault(d => d?["batch"]?.GetValue<int>() == batch)?["step_ms_per_repeat"]?.AsArray()
            .Select(ms => fromStepMs(ms!.GetValue<double>())).ToArray() ?? [];

    private static double[] One(JsonNode? value, double scale = 1) => value is null ? [] : [value.GetValue<double>() * scale];

    private static List<double> Values(IEnumerable<Run> runs, Func<JsonObject, double[]> read) =>
        runs.OrderBy(r => r.Round).SelectMany(r => read(r.Json)).Where(double.IsFinite).ToList();

    /// <summary>ours / llama.cpp of each run's median: round by round where both engines ran in every round (they took
    /// turns under like conditions), else every pairing of one run of each (the 16B runs, which cannot alternate
    /// without re-reading 16 GB from disk each time: the widest honest range).</summary>
    private static List<double> Ratios(Dictionary<string, List<Run>> engines, string? ours, string? llama, Func<JsonObject, double[]> read)
    {
        if (ours is null || llama is null) return [];
        double? Median(Run r) => read(r.Json) is { Length: > 0 } v ? v.Order().ElementAt(v.Length / 2) : null;
        var mine = engines[ours];
        var theirs = engines[llama];
        bool paired = mine.Count == theirs.Count && mine.Select(r => r.Round).Order().SequenceEqual(theirs.Select(r => r.Round).Order());
        var pairs = paired ? mine.Join(theirs, r => r.Round, r => r.Round, (a, b) => (a, b))
            : mine.SelectMany(a => theirs.Select(b => (a, b)));
        return pairs.Select(p => Median(p.a) / Median(p.b)).Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).ToList();
    }

    private static string Range(List<double> values, string unit = "") => values.Count == 0 ? "-"
        : values.Count == 1 ? $"{Format(values[0])}{unit}"
        : $"{Format(values.Min())}–{Format(values.Max())}{unit}";

    private static string Format(double v) => v.ToString(Math.Abs(v) >= 100 ? "F0" : Math.Abs(v) >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);
}
