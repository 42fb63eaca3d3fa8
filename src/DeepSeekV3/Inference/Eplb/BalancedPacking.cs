namespace DeepSeekV3.Inference.Eplb;

/// <summary>
/// EPLB's balanced packing (deepseek-ai/EPLB eplb.py <c>balanced_packing</c>): n weighted items into m packs of
/// exactly n/m items each, so that the pack weights come out as even as the greedy rule allows. Items are taken
/// heaviest first, each into the lightest pack that still has room ("longest processing time first" with a cap).
/// </summary>
internal static class BalancedPacking
{
    /// <summary>Packs one row of weights; the caller has checked that <paramref name="packs"/> divides the item count.</summary>
    /// <returns>For each item, its pack and its position in that pack (the order the pack received it).</returns>
    public static (int[] Pack, int[] RankInPack) Pack(float[] weights, int packs)
    {
        int items = weights.Length, perPack = items / packs;
        var pack = new int[items];
        var rankInPack = new int[items];
        if (perPack == 1)
        {
            // The reference's shortcut: item i alone in pack i, whatever the weights.
            for (int i = 0; i < items; i++) pack[i] = i;
            return (pack, rankInPack);
        }
        // float32 sums, as the reference adds float32 tensor scalars.
        var load = new float[packs];
        var count = new int[packs];
        foreach (int item in HeaviestFirst(weights))
        {
            int lightest = -1;
            for (int p = 0; p < packs; p++)
                if (count[p] < perPack && (lightest < 0 || load[p] < load[lightest]))
                    lightest = p;                   // strict <: the lowest pack index wins a tie, as Python's min()
            pack[item] = lightest;
            rankInPack[item] = count[lightest]++;
            load[lightest] += weights[item];
        }
        return (pack, rankInPack);
    }

    /// <summary>
    /// Item indices by weight, heaviest first. Equal weights keep index order: the reference's
    /// <c>torch.sort(descending=True)</c> does not promise an order for ties, and this is the order its stable mode
    /// gives (and the one the published README example was checked against, reference notes §1.9).
    /// </summary>
    private static int[] HeaviestFirst(float[] weights) =>
        Enumerable.Range(0, weights.Length).OrderByDescending(i => weights[i]).ToArray();   // LINQ's sort is stable
}
