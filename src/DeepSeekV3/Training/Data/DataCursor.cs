using DeepSeekV3.Randomness;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Where the training stream stands: epoch e visits every training window once in a permutation drawn from
/// (seed, e); Position counts windows already served in that epoch. Saved in checkpoints, so a resumed run reads
/// exactly the windows the uninterrupted run would have.
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
                _order = SplitMix64.Permutation(Dataset.TrainWindows, Seed, 0x53485546 + Epoch);
                _orderEpoch = Epoch;
            }
            windows[i] = _order![Position++];
        }
        return windows;
    }
}
