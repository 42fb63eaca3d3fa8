using System.Text;
using System.Text.Json;

namespace DeepSeekV3.Inference.Eplb;

/// <summary>
/// Where every routed expert lives under expert parallelism, per MoE layer: the physical slots (EPLB's "physical
/// experts") are numbered 0..<see cref="PhysicalExperts"/>−1, and rank r holds the contiguous slots
/// [r·<see cref="SlotsPerRank"/>, (r+1)·<see cref="SlotsPerRank"/>). A logical expert may have several replicas;
/// a token routed to it can go to any of them. Immutable; made by <see cref="ExpertLoadBalancer.Rebalance"/> or
/// <see cref="Identity"/>.
/// </summary>
public sealed class ExpertPlacement
{
    private readonly int[][] phy2log;
    private readonly int[][][] log2phy;
    private readonly int[][] logcnt;

    private ExpertPlacement(int[][] phy2log, int[][][] log2phy, int[][] logcnt, int ranks)
    {
        this.phy2log = phy2log;
        this.log2phy = log2phy;
        this.logcnt = logcnt;
        Ranks = ranks;
    }

    public int Layers => phy2log.Length;
    public int LogicalExperts => logcnt[0].Length;
    public int PhysicalExperts => phy2log[0].Length;
    public int Ranks { get; }
    public int SlotsPerRank => PhysicalExperts / Ranks;

    /// <summary>[layer][slot]: the logical expert physical slot <c>slot</c> holds.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Phy2Log => phy2log;

    /// <summary>
    /// [layer][expert][replica]: the slot of each replica, −1 past the expert's <see cref="LogCnt"/> (padded to the
    /// largest count over all layers). Column k is replica k in the order EPLB created it, not sorted by slot.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<IReadOnlyList<int>>> Log2Phy => log2phy;

    /// <summary>[layer][expert]: how many replicas each logical expert has (at least 1).</summary>
    public IReadOnlyList<IReadOnlyList<int>> LogCnt => logcnt;

    /// <summary>The rank (GPU) holding physical slot <paramref name="slot"/>.</summary>
    public int RankOfSlot(int slot) => slot / SlotsPerRank;

    /// <summary>The slots holding replicas of <paramref name="expert"/> on <paramref name="layer"/>, without padding.</summary>
    public ReadOnlySpan<int> SlotsOf(int layer, int expert) => log2phy[layer][expert].AsSpan(0, logcnt[layer][expert]);

    /// <summary>
    /// One replica per expert, expert e in slot e, the experts split evenly over the ranks in order: the placement
    /// without EPLB, which <see cref="DeepSeekV3.Distributed.ParallelLayout"/> uses.
    /// </summary>
    public static ExpertPlacement Identity(int layers, int experts, int ranks)
    {
        if (layers < 1 || experts < 1 || ranks < 1)
            throw new InvalidArgumentException($"layers {layers}, experts {experts}, ranks {ranks}: each must be at least 1");
        if (experts % ranks != 0)
            throw new InvalidArgumentException($"experts {experts} must be a multiple of ranks {ranks} to place each expert once");
        var slots = Enumerable.Range(0, layers).Select(_ => Enumerable.Range(0, experts).ToArray()).ToArray();
        return FromReplicas(slots, slots.Select(_ => new int[experts]).ToArray(),
            slots.Select(_ => Enumerable.Repeat(1, experts).ToArray()).ToArray(), ranks);
    }

    /// <summary>
    /// The placement expert-parallel inference starts from, before any load is observed: <see cref="Identity"/>'s
    /// slots on every rank (its <c>experts / ranks</c> own experts first, as training shards them), then
    /// <paramref name="redundantPerRank"/> redundant slots holding replicas of the next rank's first experts (rank r's
    /// k-th redundant slot: expert ((r + 1)·experts/ranks + k) mod experts). Without load statistics every expert is
    /// as likely to be busy as any other, so which ones get replicas is arbitrary; this choice keeps the identity in
    /// place and never puts a replica beside its original while the redundancy is below the other ranks' experts. The
    /// first re-plan from observed load (<see cref="ExpertLoadBalancer.Rebalance"/>) replaces it.
    /// </summary>
    public static ExpertPlacement Initial(int layers, int experts, int ranks, int redundantPerRank)
    {
        var identity = Identity(layers, experts, ranks);
        if (redundantPerRank < 0)
            throw new InvalidArgumentException($"redundant experts per rank {redundantPerRank}: must be at least 0");
        if (redundantPerRank == 0) return identity;
        int own = experts / ranks;
        int[] slots = Enumerable.Range(0, ranks).SelectMany(r => Enumerable.Range(r * own, own)
            .Concat(Enumerable.Range(0, redundantPerRank).Select(k => ((r + 1) * own + k) % experts))).ToArray();
        var phy2log = Enumerable.Range(0, layers).Select(_ => slots.ToArray()).ToArray();
        return FromSlots(phy2log, experts, ranks);
    }

    /// <summary>A placement from each slot's expert alone: replica ranks follow slot order.</summary>
    internal static ExpertPlacement FromSlots(int[][] phy2log, int experts, int ranks)
    {
        var phyRank = new int[phy2log.Length][];
        var logcnt = new int[phy2log.Length][];
        for (int l = 0; l < phy2log.Length; l++)
        {
            logcnt[l] = new int[experts];
            phyRank[l] = phy2log[l].Select(e => logcnt[l][e]++).ToArray();
        }
        return FromReplicas(phy2log, phyRank, logcnt, ranks);
    }

    /// <summary>The logical experts rank <paramref name="rank"/> holds on <paramref name="layer"/>, ascending, each once
    /// (EPLB may pack two replicas of one expert onto one rank; the rank needs its weights once).</summary>
    public int[] ExpertsOnRank(int layer, int rank) =>
        phy2log[layer].Skip(rank * SlotsPerRank).Take(SlotsPerRank).Distinct().Order().ToArray();

    /// <summary>Builds log2phy from each slot's expert and replica rank (reference <c>rebalance_experts</c>, last step).</summary>
    internal static ExpertPlacement FromReplicas(int[][] phy2log, int[][] phyRank, int[][] logcnt, int ranks)
    {
        int width = logcnt.Max(row => row.Max());
        var log2phy = logcnt.Select(row => row.Select(_ => Enumerable.Repeat(-1, width).ToArray()).ToArray()).ToArray();
        for (int l = 0; l < phy2log.Length; l++)
            for (int p = 0; p < phy2log[l].Length; p++)
                log2phy[l][phy2log[l][p]][phyRank[l][p]] = p;
        return new ExpertPlacement(phy2log, log2phy, logcnt, ranks);
    }

    /// <summary>
    /// The load each rank carries on <paramref name="layer"/> when each expert's load is split evenly over its replicas.
    /// </summary>
    public double[] RankLoads(int layer, IReadOnlyList<double> loads)
    {
        if (loads.Count != LogicalExperts)
            throw new InvalidArgumentException($"layer {layer}: {loads.Count} expert loads for a placement of {LogicalExperts} experts");
        var rankLoads = new double[Ranks];
        for (int slot = 0; slot < PhysicalExperts; slot++)
        {
            int expert = phy2log[layer][slot];
            rankLoads[RankOfSlot(slot)] += loads[expert] / logcnt[layer][expert];
        }
        return rankLoads;
    }

    /// <summary>
    /// Per layer, mean rank load / max rank load (1 = perfectly even; the report's and EPLB's measure of balance).
    /// A layer without load counts as balanced.
    /// </summary>
    public double[] Balancedness(double[][] loads)
    {
        var (layers, _) = ExpertLoads.Validate(loads);
        if (layers != Layers)
            throw new InvalidArgumentException($"{layers} layers of expert loads for a placement of {Layers} layers");
        return Enumerable.Range(0, layers).Select(l =>
        {
            double[] rankLoads = RankLoads(l, loads[l]);
            double max = rankLoads.Max();
            return max == 0 ? 1.0 : rankLoads.Average() / max;
        }).ToArray();
    }

    /// <summary>The reference's three outputs as JSON <c>{"phy2log", "log2phy", "logcnt"}</c>, one layer per line.</summary>
    public string ToJson()
    {
        var json = new StringBuilder("{\n");
        AppendLayers(json, "phy2log", phy2log);
        json.Append(",\n");
        AppendLayers(json, "log2phy", log2phy);
        json.Append(",\n");
        AppendLayers(json, "logcnt", logcnt);
        return json.Append("\n}\n").ToString();
    }

    private static void AppendLayers<T>(StringBuilder json, string name, T[] layers) =>
        json.Append($"  \"{name}\": [\n    ")
            .AppendJoin(",\n    ", layers.Select(layer => JsonSerializer.Serialize(layer)))
            .Append("\n  ]");
}
