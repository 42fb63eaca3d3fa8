namespace DeepSeekV3.Randomness;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014): a tiny
/// generator whose sequence depends only on its 64-bit state, so shuffles, FIM decisions, the validation split and
/// sampled tokens are the same on every machine and every .NET version. A mutable struct: keep it in a field or a
/// local, never in a readonly field (each call would advance a copy).
/// </summary>
public struct SplitMix64
{
    private ulong _state;

    /// <summary>
    /// One of many streams of one seed (data order, FIM choices and the validation split each take their own):
    /// the seed and the stream number are mixed into the starting state.
    /// </summary>
    public SplitMix64(long seed, long stream = 0) =>
        _state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)stream * 0xD1B54A32D192ED03UL);

    private SplitMix64(ulong state) => _state = state;

    /// <summary>Starts from <paramref name="state"/> itself, so every bit of a 64-bit seed (a request's) counts.</summary>
    public static SplitMix64 FromState(ulong state) => new(state);

    /// <summary>The whole state: <see cref="FromState"/> of it continues this sequence exactly (a request's sampler
    /// moves from a prefill process to a decode process this way).</summary>
    public readonly ulong State => _state;

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
