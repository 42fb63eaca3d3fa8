using System.Globalization;
using System.Text.RegularExpressions;

namespace DeepSeekV3.Evaluation;

/// <summary>
/// The final answer of a GSM8K-style text: the number after the last <c>####</c> if there is one, otherwise the last
/// number in the text (lm-evaluation-harness's gsm8k "strict-match" and "flexible-extract" filters). Numbers are
/// normalized before comparison: thousands separators and a leading <c>$</c> dropped, "7.0" equal to "7".
/// </summary>
public static partial class AnswerExtraction
{
    [GeneratedRegex(@"-?\$?\d[\d,]*(\.\d+)?")]
    private static partial Regex Number();

    /// <summary>The normalized answer of <paramref name="text"/>, or null when it holds no number.</summary>
    public static string? Extract(string text)
    {
        int marker = text.LastIndexOf("####", StringComparison.Ordinal);
        if (marker >= 0 && Number().Match(text, marker + 4) is { Success: true } afterMarker)
            return Normalize(afterMarker.Value);
        var matches = Number().Matches(text);
        return matches.Count == 0 ? null : Normalize(matches[^1].Value);
    }

    /// <summary>True when both texts' answers exist and are the same number.</summary>
    public static bool Matches(string generated, string reference) =>
        Extract(generated) is { } answer && answer == Extract(reference);

    private static string Normalize(string number)
    {
        string plain = number.Replace(",", "", StringComparison.Ordinal).Replace("$", "", StringComparison.Ordinal);
        return decimal.TryParse(plain, NumberStyles.Number, CultureInfo.InvariantCulture, out decimal value)
            ? value.ToString("G29", CultureInfo.InvariantCulture)                   // "7.0" → "7"
            : plain;
    }
}
