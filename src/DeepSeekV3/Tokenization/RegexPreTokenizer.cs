using System.Globalization;
using System.Text.RegularExpressions;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// HF's <c>Sequence</c> of <c>Split</c> pre-tokenizers: the first rule splits the text, every piece is split again by the
/// next rule, and so on. Each rule sees only its piece (look-aheads never cross a piece boundary), as in HF.
/// </summary>
/// <remarks>
/// Oniguruma (HF) matches code points, .NET matches UTF-16 code units, so <c>\p{L}</c> or <c>\p{S}</c> never match an
/// astral character's surrogate pair in .NET. Before splitting, each astral character is therefore replaced by one BMP
/// character of the same Unicode category (e.g. an emoji, category So, by U+00A6) and piece offsets are mapped back.
/// That is exact for patterns built from categories, <c>\s</c> and BMP ranges, which is what byte-level tokenizers use.
/// </remarks>
public sealed class RegexPreTokenizer
{
    private static readonly char[] StandIns = BuildStandIns();
    private readonly (Regex Regex, SplitRule Rule)[] _rules;

    public RegexPreTokenizer(IReadOnlyList<SplitRule> rules)
    {
        Rules = rules;
        _rules = rules.Select(r => (r.Compile(), r)).ToArray();
    }

    public IReadOnlyList<SplitRule> Rules { get; }

    /// <summary>Appends the pieces of <paramref name="text"/> to <paramref name="pieces"/> as (start, length) in text.</summary>
    public void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> pieces)
    {
        if (text.IsEmpty)
            return;
        if (text.IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            SplitBmp(text, pieces);
            return;
        }
        // Astral characters: split a stand-in string, then map piece bounds back through `origin`.
        var standIn = new char[text.Length];
        var origin = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            origin[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int cp = char.ConvertToUtf32(text[i], text[i + 1]);
                standIn[n++] = StandIns[(int)CharUnicodeInfo.GetUnicodeCategory(cp)];
                i++;
            }
            else
            {
                standIn[n++] = text[i];
            }
        }
        origin[n] = text.Length;
        int first = pieces.Count;
        SplitBmp(standIn.AsSpan(0, n), pieces);
        for (int p = first; p < pieces.Count; p++)
        {
            var (s, l) = pieces[p];
            pieces[p] = (origin[s], origin[s + l] - origin[s]);
        }
    }

    private void SplitBmp(ReadOnlySpan<char> text, List<(int Start, int Length)> pieces)
    {
        var current = new List<(int, int)> { (0, text.Length) };
        var next = new List<(int, int)>();
        foreach (var (regex, rule) in _rules)
        {
            next.Clear();
            foreach (var (start, length) in current)
                SplitOne(regex, rule, text.Slice(start, length), start, next);
            (current, next) = (next, current);
        }
        pieces.AddRange(current);
    }

    private static void SplitOne(Regex regex, SplitRule rule, ReadOnlySpan<char> piece, int offset, List<(int, int)> output)
    {
        bool keepMatches = rule.Behavior == SplitBehavior.Isolated || rule.Invert;
        bool keepGaps = rule.Behavior == SplitBehavior.Isolated || !rule.Invert;
        int previous = 0;
        foreach (ValueMatch m in regex.EnumerateMatches(piece))
        {
            if (m.Length == 0)
                continue;
            if (m.Index > previous && keepGaps)
                output.Add((offset + previous, m.Index - previous));
            if (keepMatches)
                output.Add((offset + m.Index, m.Length));
            previous = m.Index + m.Length;
        }
        if (previous < piece.Length && keepGaps)
            output.Add((offset + previous, piece.Length - previous));
    }

    private static char[] BuildStandIns()
    {
        var table = new char[32];
        Array.Fill(table, '\uE000');
        for (int c = 0xFFFF; c >= 0xA0; c--)
        {
            if (c is >= 0xD800 and <= 0xDFFF)
                continue;
            int cat = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            table[cat] = (char)c; // walking down, so the lowest qualifying character wins
        }
        return table;
    }
}
