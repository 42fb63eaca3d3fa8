namespace DeepSeekV3.Inference;

/// <summary>
/// Finds stop strings in streamed text. Text that could still be the start of a stop string is held back, so a
/// stream never shows the beginning of a stop string that later completes; on a match, the text before the stop
/// string is released and the stop string itself is dropped (as OpenAI's API does).
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stopStrings)
{
    private readonly string[] _stops = stopStrings.Where(s => s.Length > 0).ToArray();
    private string _held = "";

    public bool Stopped { get; private set; }

    /// <summary>Adds decoded text; returns what may be shown now.</summary>
    public string Push(string piece)
    {
        if (Stopped) return "";
        string text = _held + piece;
        int cut = _stops.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        if (cut >= 0)
        {
            Stopped = true;
            _held = "";
            return text[..cut];
        }
        int hold = HeldSuffixLength(text);
        _held = text[^hold..];
        return text[..^hold];
    }

    /// <summary>The end of the stream: releases whatever was held back.</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _held;
        _held = "";
        return rest;
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of a stop string.</summary>
    private int HeldSuffixLength(string text)
    {
        int best = 0;
        foreach (string stop in _stops)
            for (int length = Math.Min(stop.Length - 1, text.Length); length > best; length--)
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    best = length;
                    break;
                }
        return best;
    }
}
