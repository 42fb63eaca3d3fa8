using System.Globalization;

namespace DeepSeekV3.Distributed.Planning;

/// <summary>Counts written the way reports write them: 14.8T, 500B, 469B, 2.5M, 4096, 1e12.</summary>
public static class TokenCount
{
    private static readonly (char Suffix, double Scale)[] Suffixes = [('K', 1e3), ('M', 1e6), ('B', 1e9), ('G', 1e9), ('T', 1e12)];

    /// <summary>Parses <paramref name="text"/>; <paramref name="option"/> names it in the error.</summary>
    public static double Parse(string text, string option = "--tokens")
    {
        string trimmed = text.Trim();
        double scale = 1;
        if (trimmed.Length > 0 && Suffixes.FirstOrDefault(s => char.ToUpperInvariant(trimmed[^1]) == s.Suffix) is { Scale: > 0 } suffix)
        {
            scale = suffix.Scale;
            trimmed = trimmed[..^1];
        }
        if (!double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value <= 0)
            throw new InvalidArgumentException($"{option} \"{text}\": expected a positive count like 14.8T, 500B, 2.5M or 1e12");
        return value * scale;
    }

    /// <summary>14.8T, 62.9M, 4096: three significant digits with the largest suffix that fits.</summary>
    public static string Format(double count)
    {
        foreach (var (suffix, scale) in Suffixes.Where(s => s.Suffix != 'G').Reverse())
            if (count >= scale) return (count / scale).ToString("0.###", CultureInfo.InvariantCulture) + suffix;
        return count.ToString("0.###", CultureInfo.InvariantCulture);
    }
}
