using static TorchSharp.torch;

namespace DeepSeekV3.Training.Objectives;

/// <summary>
/// Tokens routed to each expert of one MoE layer over a whole optimizer step (all micro-batches), and the report's
/// MaxVio = max_i load_i / mean load − 1 (§4.5.3).
/// </summary>
public sealed class ExpertLoad
{
    public ExpertLoad(int layer, int experts)
    {
        Layer = layer;
        Counts = new long[experts];
    }

    /// <summary>Index in model.layers (MTP modules included).</summary>
    public int Layer { get; }

    public long[] Counts { get; }

    public long Total => Counts.Sum();

    /// <summary>Adds the experts chosen in one router decision (indices: [N, K] int64).</summary>
    public void Add(Tensor indices)
    {
        using var counts = indices.reshape(-1).bincount(null, Counts.Length).cpu();
        var values = counts.data<long>();
        for (int i = 0; i < Counts.Length; i++)
            Counts[i] += values[i];
    }

    public static double MaxViolation(IReadOnlyList<long> counts)
    {
        double mean = counts.Average(c => (double)c);
        return mean == 0 ? 0 : counts.Max() / mean - 1;
    }

    public double MaxVio => MaxViolation(Counts);

    /// <summary>Each expert's share of this layer's routed slots (sums to 1).</summary>
    public double[] Fractions()
    {
        double total = Total;
        return Counts.Select(c => total == 0 ? 0 : c / total).ToArray();
    }
}
