using System.Text.RegularExpressions;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// DeepSeek-V3's split patterns (and GPT-2's) compiled at build time by the regex source generator: no start-up
/// compile per tokenizer, and the matching code is shared and JIT-optimised once per process. Any other pattern
/// from a tokenizer.json is compiled at load time.
/// </summary>
internal static partial class KnownSplitRegexes
{
    public static Regex? TryGet(string pattern)
    {
        var rules = DeepSeekV3TokenizerLayout.SplitRules;
        if (pattern == rules[0].Pattern)
            return Digits();
        if (pattern == rules[1].Pattern)
            return CjkRuns();
        if (pattern == rules[2].Pattern)
            return WordsAndPunctuation();
        return pattern == SplitRule.Gpt2Pattern ? Gpt2() : null;
    }

    [GeneratedRegex(@"\p{N}{1,3}", RegexOptions.CultureInvariant)]
    private static partial Regex Digits();

    [GeneratedRegex("[一-龥\u3040-ゟ゠-ヿ]+", RegexOptions.CultureInvariant)]
    private static partial Regex CjkRuns();

    [GeneratedRegex("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
        RegexOptions.CultureInvariant)]
    private static partial Regex WordsAndPunctuation();

    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2();
}
