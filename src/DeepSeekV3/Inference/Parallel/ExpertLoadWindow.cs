using DeepSeekV3.Distributed;

namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// How many (token, expert) pairs this rank's experts computed, per MoE layer and logical expert, since the window
/// was last <see cref="Reset"/>: the online statistics EPLB re-plans from (report §3.4: "high-load experts are
/// detected based on statistics collected during the online deployment"). Summed over the ranks they are the pairs
/// routed to each logical expert, each counted once (its replica's rank counted it); per rank they are the load each
/// rank carried.
/// </summary>
public sealed class ExpertLoadWindow(int layers, int experts)
{
    private readonly long[] _counts = new long[layers * experts];

    public int Layers => layers;
    public int Experts => experts;

    public void Add(int layer, int expert, long pairs) => _counts[layer * experts + expert] += pairs;

    public void Reset() => Array.Clear(_counts);

    /// <summary>Collective: every rank's window. Returns the loads per layer and logical expert summed over the ranks,
    /// and per layer the load each rank carried.</summary>
    public (double[][] ExpertLoads, double[][] RankLoads) Gather(ICommunicator group)
    {
        var all = new long[_counts.Length * group.Size];
        group.AllGather<long>(_counts, all);
        var expertLoads = new double[layers][];
        var rankLoads = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            expertLoads[l] = new double[experts];
            rankLoads[l] = new double[group.Size];
            for (int r = 0; r < group.Size; r++)
                for (int e = 0; e < experts; e++)
                {
                    long count = all[r * _counts.Length + l * experts + e];
                    expertLoads[l][e] += count;
                    rankLoads[l][r] += count;
                }
        }
        return (expertLoads, rankLoads);
    }
}
