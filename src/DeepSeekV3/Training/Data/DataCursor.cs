using DeepSeekV3.Randomness;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Where the training stream stands: epoch e visits every training window once in a permutation drawn from
/// (seed, e); Position counts windows already served in that epoch. Saved in checkpoints, so a resumed run reads
/// exactly the windows the uninterrupted run would have. With mixed pre-training windows
/// (<see cref="PackedDataset.MixPretraining"/>) each source is permuted on its own and the two are interleaved by
/// Megatron-LM's blending rule (<c>build_blending_indices</c>): slot i goes to the source furthest below its share of
/// i + 1 windows, so every prefix of an epoch holds the mix ratio to within one window.
/// </summary>
public sealed class DataCursor
{
    private long[]? _order;
    private long _orderEpoch = -1;

    public DataCursor(PackedDataset dataset, long seed, long epoch = 0, long position = 0)
    {
        Dataset = dataset;
        Seed = seed;
        Epoch = epoch;
        Position = position;
    }

    public PackedDataset Dataset { get; }
    public long Seed { get; }
    public long Epoch { get; private set; }
    public long Position { get; private set; }

    /// <summary>The next <paramref name="count"/> training windows, wrapping into the next epoch when needed.</summary>
    public long[] Next(int count)
    {
        var windows = new long[count];
        for (int i = 0; i < count; i++)
        {
            if (Position >= Dataset.TrainWindows)
            {
                Epoch++;
                Position = 0;
            }
            if (_orderEpoch != Epoch)
            {
                _order = Order(Epoch);
                _orderEpoch = Epoch;
            }
            windows[i] = _order![Position++];
        }
        return windows;
    }

    private long[] Order(long epoch)
    {
        long mixed = Dataset.MixedWindows, own = Dataset.TrainWindows - mixed;
        var first = SplitMix64.Permutation(own, Seed, 0x53485546 + epoch);
        if (mixed == 0) return first;
        var second = SplitMix64.Permutation(mixed, Seed, 0x4D495800 + epoch);
        long total = own + mixed, taken = 0, takenMixed = 0;
        var order = new long[total];
        for (long i = 0; i < total; i++)
        {
            // Errors of the two sources against their shares of i + 1 windows, times total: own·(i+1) − taken·total.
            long ownError = own * (i + 1) - (taken - takenMixed) * total;
            long mixedError = mixed * (i + 1) - takenMixed * total;
            bool fromMixed = takenMixed < mixed && (mixedError > ownError || taken - takenMixed == own);
            order[i] = fromMixed ? own + second[takenMixed++] : first[taken - takenMixed];
            taken++;
        }
        return order;
    }
}
