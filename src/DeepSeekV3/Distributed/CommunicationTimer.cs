using System.Diagnostics;

namespace DeepSeekV3.Distributed;

/// <summary>
/// What communication cost one rank: seconds spent blocked (in a blocking collective, or waiting for a non-blocking
/// one to complete) and bytes this rank sent. Blocked time is the exposed part: with overlap, a transfer that
/// finished while experts computed costs (almost) nothing here. Comparing a run without overlap (all of it exposed)
/// with one with overlap gives the hidden share, 1 − exposed(overlap) / exposed(blocking). The owner reads and
/// <see cref="Reset"/>s it per step; not thread-safe (one rank's forward and backward run on one thread).
/// </summary>
public sealed class CommunicationTimer
{
    private long _ticks;

    /// <summary>Seconds blocked on communication since the last <see cref="Reset"/>.</summary>
    public double BlockedSeconds => (double)_ticks / Stopwatch.Frequency;

    /// <summary>Bytes this rank sent (to other ranks and to itself) since the last <see cref="Reset"/>.</summary>
    public long BytesSent { get; private set; }

    /// <summary>Collectives started since the last <see cref="Reset"/>.</summary>
    public int Operations { get; private set; }

    public void CountSent(long bytes)
    {
        BytesSent += bytes;
        Operations++;
    }

    /// <summary>Call before blocking (a blocking collective, or a Wait); pass the result to <see cref="StopBlocking"/>.</summary>
    public long StartBlocking() => Stopwatch.GetTimestamp();

    public void StopBlocking(long started) => _ticks += Stopwatch.GetTimestamp() - started;

    public void Reset()
    {
        _ticks = 0;
        BytesSent = 0;
        Operations = 0;
    }

    public override string ToString() =>
        $"{BlockedSeconds * 1000:F1} ms blocked, {BytesSent / 1048576.0:F2} MiB sent in {Operations} collectives";
}
