using System.Buffers;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// Finds added tokens in raw text the way HF does: leftmost match first, and the longest one at that position.
/// Tokens with lstrip/rstrip also swallow the whitespace on that side.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly SearchValues<char> _firstChars;
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        var usable = tokens.Where(t => t.Content.Length > 0).ToList();
        _byFirstChar = usable.GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    /// <summary>The next added token at or after <paramref name="from"/>: its span in text (whitespace included) and id.</summary>
    public bool TryFindNext(ReadOnlySpan<char> text, int from, out int start, out int length, out AddedToken token)
    {
        for (int i = from; i < text.Length;)
        {
            int hit = text[i..].IndexOfAny(_firstChars);
            if (hit < 0)
                break;
            i += hit;
            foreach (var candidate in _byFirstChar[text[i]])
            {
                if (!text[i..].StartsWith(candidate.Content, StringComparison.Ordinal))
                    continue;
                start = i;
                int end = i + candidate.Content.Length;
                if (candidate.LStrip)
                {
                    while (start > from && char.IsWhiteSpace(text[start - 1]))
                        start--;
                }
                if (candidate.RStrip)
                {
                    while (end < text.Length && char.IsWhiteSpace(text[end]))
                        end++;
                }
                length = end - start;
                token = candidate;
                return true;
            }
            i++;
        }
        start = length = 0;
        token = null!;
        return false;
    }
}
