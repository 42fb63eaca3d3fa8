using DeepSeekV3.Randomness;

namespace DeepSeekV3.Tests.Randomness;

public class SplitMix64Tests
{
    [Fact]
    public void FromState_yields_the_published_splitmix64_sequence()
    {
        // The reference algorithm (https://prng.di.unimi.it/splitmix64.c) from x = 1234567, computed outside .NET
        // (a line-by-line Python transcription of that C file).
        var rng = SplitMix64.FromState(1234567);
        ulong[] expected = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431,
                            16408922859458223821];
        foreach (ulong value in expected)
            Assert.Equal(value, rng.Next());
    }

    [Fact]
    public void Streams_of_one_seed_differ_and_each_repeats()
    {
        var a = new SplitMix64(7, stream: 1);
        var b = new SplitMix64(7, stream: 2);
        var again = new SplitMix64(7, stream: 1);
        ulong first = a.Next();
        Assert.NotEqual(first, b.Next());
        Assert.Equal(first, again.Next());
    }

    [Fact]
    public void Permutation_holds_every_index_once()
    {
        long[] order = SplitMix64.Permutation(1000, seed: 3, stream: 0);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), order.Order());
        Assert.NotEqual(Enumerable.Range(0, 1000).Select(i => (long)i), order);
    }
}
