namespace DeepSeekV3.Tokenization;

/// <summary>
/// Hashing for (left id, right id) pairs packed in a long. The default <c>long</c> hash is <c>low ^ high</c>, i.e.
/// left ^ right: with ids below 2^17, tens of thousands of merges collide and lookups walk long chains (a 10 MB piece
/// took 15 s). A multiplicative (Fibonacci) hash spreads them.
/// </summary>
internal sealed class PairKeyComparer : IEqualityComparer<long>
{
    public static PairKeyComparer Instance { get; } = new();

    public bool Equals(long x, long y) => x == y;

    public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
}
