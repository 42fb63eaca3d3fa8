using System.Diagnostics;

namespace DeepSeekV3.Cli.Commands;

/// <summary>
/// A one-line progress bar for long writes, redrawn in place at most a few times a second:
/// <c>label [#####-----] 3.2/15.9 GB  410 MB/s  ETA 0:31</c>. The ETA assumes the rate so far continues.
/// </summary>
internal sealed class ByteProgressBar(TextWriter writer, string label) : IProgress<(long Done, long Total)>
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private double _lastDrawSeconds = double.NegativeInfinity;

    public void Report((long Done, long Total) value)
    {
        var elapsed = _watch.Elapsed;
        bool finished = value.Done >= value.Total;
        if (!finished && elapsed.TotalSeconds - _lastDrawSeconds < 0.25)
            return;
        _lastDrawSeconds = elapsed.TotalSeconds;
        int filled = value.Total == 0 ? 30 : (int)(30 * value.Done / value.Total);
        double rate = value.Done / Math.Max(elapsed.TotalSeconds, 1e-3);
        var eta = TimeSpan.FromSeconds(Math.Min(rate > 0 ? (value.Total - value.Done) / rate : 0, 99 * 3600));
        writer.Write($"\r{label} [{new string('#', filled)}{new string('-', 30 - filled)}] " +
                     $"{Size(value.Done)}/{Size(value.Total)}  {rate / 1e6:F0} MB/s  " +
                     (finished ? $"done in {elapsed:m\\:ss}\n" : $"ETA {eta:h\\:mm\\:ss}"));
        writer.Flush();
    }

    private static string Size(long bytes) => bytes >= 1_000_000_000 ? $"{bytes / 1e9:F2} GB" : $"{bytes / 1e6:F1} MB";
}
