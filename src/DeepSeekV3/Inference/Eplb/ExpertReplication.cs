namespace DeepSeekV3.Inference.Eplb;

/// <summary>
/// EPLB's replication step (deepseek-ai/EPLB eplb.py <c>replicate_experts</c>): gives the redundant slots, one at a
/// time, to the expert whose load per replica is currently the highest, which minimises the largest per-replica load
/// greedily (D'Hondt seat allocation).
/// </summary>
internal static class ExpertReplication
{
    /// <param name="loads">One row: the load of each logical expert.</param>
    /// <param name="physical">Slots to fill, at least <c>loads.Length</c>.</param>
    /// <returns>
    /// Phy2Log: slot p holds expert p for p &lt; loads.Length, then one redundant replica per further slot.
    /// Rank: which replica of its expert each slot is (0 for the original). LogCnt: replicas per expert (≥ 1).
    /// </returns>
    public static (int[] Phy2Log, int[] Rank, int[] LogCnt) Replicate(float[] loads, int physical)
    {
        int experts = loads.Length;
        var phy2log = new int[physical];
        var rank = new int[physical];
        var logcnt = new int[experts];
        for (int e = 0; e < experts; e++)
        {
            phy2log[e] = e;
            logcnt[e] = 1;
        }
        for (int p = experts; p < physical; p++)
        {
            int busiest = 0;
            for (int e = 1; e < experts; e++)
                if (loads[e] / logcnt[e] > loads[busiest] / logcnt[busiest])
                    busiest = e;                    // strict >: the first maximal expert wins, as torch.max(dim) does
            phy2log[p] = busiest;
            rank[p] = logcnt[busiest]++;
        }
        return (phy2log, rank, logcnt);
    }
}
