namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// How evenly a window of pairs fell on the ranks: <see cref="Balancedness"/> is mean / max rank load per MoE layer
/// (1 = even; EPLB's and SGLang's measure), averaged over the layers that carried load; <see cref="RankLoads"/> are
/// the pairs each rank computed (measured) or would compute (EPLB's prediction: each expert's load split evenly over
/// its replicas), summed over the layers.
/// </summary>
public sealed record ExpertBalance(double Balancedness, double[] RankLoads, long Pairs)
{
    /// <param name="rankLoads">[layer][rank].</param>
    public static ExpertBalance Of(double[][] rankLoads)
    {
        var loaded = rankLoads.Where(layer => layer.Max() > 0).ToList();
        double balancedness = loaded.Count == 0 ? 1.0 : loaded.Average(layer => layer.Average() / layer.Max());
        double[] total = Enumerable.Range(0, rankLoads[0].Length).Select(r => rankLoads.Sum(layer => layer[r])).ToArray();
        return new ExpertBalance(balancedness, total, (long)total.Sum());
    }

    public override string ToString() =>
        $"balancedness {Balancedness:F3}, rank loads [{string.Join(", ", RankLoads.Select(l => l.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))}]";
}
