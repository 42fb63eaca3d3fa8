namespace DeepSeekV3.Training.Data;

/// <summary>How documents become training windows.</summary>
public sealed record DataOptions
{
    /// <summary>T: tokens the model reads per sequence; each window holds T + 1 tokens (inputs and targets).</summary>
    public int SequenceLength { get; init; } = 256;

    /// <summary>Share of documents (PSM FIM) rearranged; report 0.1.</summary>
    public double FimRate { get; init; } = 0.1;

    /// <summary>Share of documents held out for validation (chosen by a seeded hash, at least one when possible).</summary>
    public double ValidationFraction { get; init; } = 0.02;

    public long Seed { get; init; }
}
