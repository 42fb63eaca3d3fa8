using System.Text.RegularExpressions;

namespace DeepSeekV3.Tokenization;

/// <summary>What a HF <c>Split</c> pre-tokenizer does with the pieces its pattern matches.</summary>
public enum SplitBehavior
{
    /// <summary>Matches and the gaps between them both become pieces (all of DeepSeek-V3's splits).</summary>
    Isolated,
    /// <summary>Matches are dropped; only the gaps remain.</summary>
    Removed,
}

/// <summary>
/// One HF <c>Split</c> step: a regex (Oniguruma syntax in tokenizer.json, compiled by .NET unchanged for the
/// patterns byte-level tokenizers use), a behaviour and the <c>invert</c> flag (which swaps matches and gaps).
/// </summary>
public sealed record SplitRule(string Pattern, SplitBehavior Behavior, bool Invert = false)
{
    /// <summary>GPT-2's pattern, what HF's ByteLevel pre-tokenizer applies when <c>use_regex</c> is true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    internal Regex Compile()
    {
        if (KnownSplitRegexes.TryGet(Pattern) is Regex known)
            return known;
        try
        {
            return new Regex(Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFileException($"pre_tokenizer Split pattern '{Pattern}' is not a valid .NET regex: {e.Message}", e);
        }
    }
}
