namespace DeepSeekV3.Training.Data;

/// <summary>
/// A tiny deterministic random generator (SplitMix64) whose sequence depends only on its seed, so shuffles, FIM
/// decisions and the validation split are the same on every machine and every .NET version.
/// </summary>
public struct SplitMix64
{
    private ulong _state;

    public SplitMix64(long seed, long stream = 0) =>
        _state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)stream * 0xD1B54A32D192ED03UL);

    public ulong Next()
    {
        ulong z = unchecked(_state += 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, n).</summary>
    public long NextLong(long n) => (long)(NextDouble() * n);

    /// <summary>A permutation of 0..n-1 (Fisher-Yates).</summary>
    public static long[] Permutation(long n, long seed, long stream)
    {
        var rng = new SplitMix64(seed, stream);
        var order = new long[n];
        for (long i = 0; i < n; i++) order[i] = i;
        for (long i = n - 1; i > 0; i--)
        {
            long j = rng.NextLong(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
