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

    private static readonly (string Name, Func<JsonObject, double?> Read, bool HigherIsBetter)[] Figures =
    [
        ("prefill tok/s", j => j["prefill_tokens_per_second"]?.GetValue<double>(), true),
        ("decode b1 tok/s", j => Decode(j, 1, "tokens_per_second"), true),
        ("decode b4 tok/s", j => Decode(j, 4, "tokens_per_second"), true),
        ("decode b1 GB/s", j => Decode(j, 1, "effective_gb_per_second"), true),
        ("b1 % of read bw", j => Decode(j, 1, "effective_gb_per_second") / j["read_bandwidth_gb_per_second"]?["threads"]?.GetValue<double>() * 100, true),
        ("load s", j => j["load_seconds"]?.GetValue<double>(), false),
        ("first prefill s", j => j["first_prefill_seconds"]?.GetValue<double>(), false),
        ("peak RSS GB", j => j["resident_bytes"]?["peak"]?.GetValue<double>() / 1e9, false),
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
            Console.WriteLine($"\n{pair.Key}: {string.Join(" vs ", engines.Keys)} ({engines.Values.Max(v => v.Count)} rounds)");
            Console.WriteLine($"  {"figure",-18} {"ours",-22} {"llama.cpp",-22} ours/llama by round");
            var figures = new JsonObject();
            foreach (var (name, read, _) in Figures)
            {
                var mine = Values(ours is null ? [] : engines[ours], read);
                var theirs = Values(llama is null ? [] : engines[llama], read);
                var ratios = ours is null || llama is null ? []
                    : engines[ours].Join(engines[llama], r => r.Round, r => r.Round, (a, b) => read(a.Json) / read(b.Json))
                        .Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).ToList();
                Console.WriteLine($"  {name,-18} {Range(mine),-22} {Range(theirs),-22} {Range(ratios, "×")}");
                figures[name] = new JsonObject
                {
                    ["ours"] = new JsonArray(mine.Select(v => (JsonNode)v).ToArray()),
                    ["llama_cpp"] = new JsonArray(theirs.Select(v => (JsonNode)v).ToArray()),
                    ["ratio_by_round"] = new JsonArray(ratios.Select(v => (JsonNode)v).ToArray()),
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

    private static List<double> Values(IEnumerable<Run> runs, Func<JsonObject, double?> read) =>
        runs.OrderBy(r => r.Round).Select(r => read(r.Json)).Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value).ToList();

    private static string Range(List<double> values, string unit = "") => values.Count == 0 ? "-"
        : values.Count == 1 ? $"{Format(values[0])}{unit}"
        : $"{Format(values.Min())}–{Format(values.Max())}{unit}";

    private static string Format(double v) => v.ToString(Math.Abs(v) >= 100 ? "F0" : Math.Abs(v) >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);
}
