namespace DeepSeekV3.Training.Data;

/// <summary>How documents become training windows.</summary>
public sealed record DataOptions
{
    /// <summary>T: tokens the model reads per sequence; each window holds T + 1 tokens (inputs and targets).</summary>
    public int SequenceLength { get; init; } = 256;

    /// <summary>Share of documents (PSM FIM) rearranged; report 0.1.</summary>
    public double FimRate { get; init; } = 0.1;

    /// <summary>Share held out for validation: documents chosen by a seeded hash (at least one when possible), or the
    /// stream's tail when those fill no window (see <see cref="PackedDataset"/>); 0 disables validation.</summary>
    public double ValidationFraction { get; init; } = 0.02;

    public long Seed { get; init; }
}
