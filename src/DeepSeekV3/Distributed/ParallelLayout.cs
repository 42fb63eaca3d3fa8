using DeepSeekV3.Configuration;

namespace DeepSeekV3.Distributed;

/// <summary>
/// How the ranks of a job divide the work (report §3.2, Megatron's and DeepSpeed-MoE's arrangement).
/// All <see cref="WorldSize"/> ranks are data parallel for attention, dense layers, shared experts, embedding and
/// head: each takes its share of every global batch. The routed experts are sharded over expert-parallel groups
/// of <see cref="ExpertParallel"/> consecutive ranks (rank r holds experts [r·n/E, (r+1)·n/E) of its group), and each
/// shard is replicated over the WorldSize / E groups (expert data parallelism). A node is
/// <see cref="RanksPerNode"/> consecutive ranks; node-limited routing keeps each token's experts on at most
/// <c>topk_group</c> nodes by laying whole expert groups (<c>n_group</c>) out on each node.
/// </summary>
public sealed record ParallelLayout
{
    public ParallelLayout(int worldSize, int rank, int expertParallel = 1, int? ranksPerNode = null)
    {
        if (worldSize < 1) throw new InvalidArgumentException($"world size {worldSize}: expected at least 1");
        if (rank < 0 || rank >= worldSize) throw new InvalidArgumentException($"rank {rank} outside a world of {worldSize}");
        if (expertParallel < 1 || worldSize % expertParallel != 0)
            throw new InvalidArgumentException($"--ep {expertParallel}: must divide the number of ranks ({worldSize})");
        int perNode = ranksPerNode ?? expertParallel;
        if (perNode < 1 || expertParallel % perNode != 0)
            throw new InvalidArgumentException($"--ranks-per-node {perNode}: must divide --ep {expertParallel}");
        WorldSize = worldSize;
        Rank = rank;
        ExpertParallel = expertParallel;
        RanksPerNode = perNode;
    }

    public int WorldSize { get; }
    public int Rank { get; }
    public int ExpertParallel { get; }
    public int RanksPerNode { get; }

    /// <summary>Replicas of each expert shard: the data-parallel degree of the routed experts.</summary>
    public int ExpertDataParallel => WorldSize / ExpertParallel;

    /// <summary>This rank's place within its expert-parallel group.</summary>
    public int ExpertRank => Rank % ExpertParallel;

    /// <summary>Which expert-parallel group (= which replica of the experts) this rank belongs to.</summary>
    public int ExpertGroup => Rank / ExpertParallel;

    /// <summary>Nodes spanned by one expert-parallel group.</summary>
    public int NodesPerExpertGroup => ExpertParallel / RanksPerNode;

    /// <summary>The node (within the expert-parallel group) of expert-parallel rank <paramref name="expertRank"/>.</summary>
    public int NodeOf(int expertRank) => expertRank / RanksPerNode;

    public int ExpertsPerRank(int routedExperts) => routedExperts / ExpertParallel;

    /// <summary>The expert-parallel rank that holds routed expert <paramref name="expert"/>.</summary>
    public int OwnerOf(int expert, int routedExperts) => expert / ExpertsPerRank(routedExperts);

    /// <summary>The routed experts this rank holds: [First, First + Count).</summary>
    public (int First, int Count) LocalExperts(int routedExperts)
    {
        int per = ExpertsPerRank(routedExperts);
        return (ExpertRank * per, per);
    }

    /// <summary>Refuses a model this layout cannot shard, naming the rule.</summary>
    public void Validate(ModelConfig config)
    {
        if (ExpertParallel == 1) return;
        if (config.NRoutedExperts == 0)
            throw new InvalidArgumentException($"--ep {ExpertParallel}: the model has no routed experts");
        if (config.NRoutedExperts % ExpertParallel != 0)
            throw new InvalidArgumentException(
                $"--ep {ExpertParallel}: n_routed_experts {config.NRoutedExperts} must divide evenly over the expert-parallel ranks");
        int nodes = NodesPerExpertGroup;
        if (nodes > 1 && config.NGroup % nodes != 0)
            throw new InvalidArgumentException(
                $"--ranks-per-node {RanksPerNode}: the {nodes} nodes of an expert-parallel group must each hold whole expert groups " +
                $"(n_group {config.NGroup} is not a multiple of {nodes}), or node-limited routing cannot hold");
    }

    public override string ToString() =>
        $"{WorldSize} ranks: data parallel {WorldSize}, expert parallel {ExpertParallel} (experts replicated {ExpertDataParallel}×), " +
        $"{RanksPerNode} ranks per node";
}
