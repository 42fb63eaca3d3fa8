namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// A Prometheus histogram: observations counted into cumulative buckets by upper bound (the last bucket is +Inf),
/// with their count and sum. Thread-safe.
/// </summary>
public sealed class Histogram(IReadOnlyList<double> upperBounds)
{
    private readonly double[] _bounds = upperBounds.ToArray();
    private readonly long[] _counts = new long[upperBounds.Count + 1];
    private readonly Lock _lock = new();
    private double _sum;

    /// <summary>Latency buckets in seconds, from 1 ms (a decode step of the bundled model) to 16 minutes.</summary>
    public static readonly IReadOnlyList<double> LatencySeconds =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 320, 960];

    public IReadOnlyList<double> UpperBounds => _bounds;

    public void Observe(double value)
    {
        int bucket = 0;
        while (bucket < _bounds.Length && value > _bounds[bucket]) bucket++;
        lock (_lock)
        {
            _counts[bucket]++;
            _sum += value;
        }
    }

    /// <summary>Cumulative counts per upper bound (+Inf last), the sum and the count, read together.</summary>
    public (long[] Cumulative, double Sum, long Count) Snapshot()
    {
        lock (_lock)
        {
            var cumulative = new long[_counts.Length];
            long running = 0;
            for (int i = 0; i < _counts.Length; i++) cumulative[i] = running += _counts[i];
            return (cumulative, _sum, running);
        }
    }
}
