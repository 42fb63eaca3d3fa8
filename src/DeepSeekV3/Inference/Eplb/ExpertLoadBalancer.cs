namespace DeepSeekV3.Inference.Eplb;

/// <summary>
/// The Expert-Parallelism Load Balancer (report §3.4; deepseek-ai/EPLB eplb.py <c>rebalance_experts</c>): given
/// each layer's expert loads, chooses which experts get redundant replicas and on which GPU every replica lives, so
/// that GPU loads come out even. Physical slot p lives on GPU p / (replicas / gpus); GPU g on node g / (gpus / nodes).
/// Works in float32 like the reference, and breaks ties as it does (first lightest pack, first busiest expert,
/// heaviest-first order stable for equal weights), so the README's published example is reproduced exactly.
/// </summary>
public static class ExpertLoadBalancer
{
    /// <summary>Hierarchical when the groups divide evenly over the nodes, global otherwise (the reference's rule).</summary>
    public static EplbPolicy PolicyFor(int groups, int nodes) =>
        groups % nodes == 0 ? EplbPolicy.Hierarchical : EplbPolicy.Global;

    /// <param name="loads">[layers][logical experts], non-negative.</param>
    /// <param name="replicas">Physical expert slots per layer over the whole cluster (logical experts + redundant ones).</param>
    /// <param name="groups">Expert groups (the model's <c>n_group</c>).</param>
    /// <param name="nodes">Server nodes; GPUs within a node talk over the fast interconnect (NVLink).</param>
    /// <param name="gpus">GPUs (expert-parallel ranks) over all nodes.</param>
    public static ExpertPlacement Rebalance(double[][] loads, int replicas, int groups, int nodes, int gpus)
    {
        var (layers, experts) = ExpertLoads.Validate(loads);
        Validate(experts, replicas, groups, nodes, gpus);
        // The global policy is the hierarchical one on a single node holding a single group (reference, current
        // since EPLB commit e1100fe: replicas are also packed onto GPUs, not appended after the originals).
        if (PolicyFor(groups, nodes) == EplbPolicy.Global) (groups, nodes) = (1, 1);
        var phy2log = new int[layers][];
        var phyRank = new int[layers][];
        var logcnt = new int[layers][];
        for (int l = 0; l < layers; l++)
        {
            float[] row = loads[l].Select(load => (float)load).ToArray();
            (phy2log[l], phyRank[l], logcnt[l]) = RebalanceLayer(row, replicas, groups, nodes, gpus);
        }
        return ExpertPlacement.FromReplicas(phy2log, phyRank, logcnt, gpus);
    }

    /// <summary>
    /// Refuses a cluster shape EPLB cannot fill, naming the rule. Groups and nodes matter only to the hierarchical
    /// policy; the global one ignores them, as the reference does (it asserts these rules inside the hierarchical routine).
    /// </summary>
    public static void Validate(int experts, int replicas, int groups, int nodes, int gpus)
    {
        Require(replicas > 0 && groups > 0 && nodes > 0 && gpus > 0,
            $"replicas {replicas}, groups {groups}, nodes {nodes}, gpus {gpus}: each must be at least 1");
        Require(replicas % gpus == 0, $"replicas {replicas} must be a multiple of gpus {gpus} (every GPU holds the same number of slots)");
        Require(replicas >= experts, $"replicas {replicas} must be at least experts {experts} (every expert needs a slot)");
        if (PolicyFor(groups, nodes) == EplbPolicy.Global) return;
        Require(gpus % nodes == 0, $"gpus {gpus} must be a multiple of nodes {nodes} (every node has the same number of GPUs)");
        Require(experts % groups == 0, $"experts {experts} must be a multiple of groups {groups} (every group has the same size)");
    }

    private static void Require(bool rule, string message)
    {
        if (!rule) throw new InvalidArgumentException(message);
    }

    /// <summary>The hierarchical policy on one layer (reference <c>rebalance_experts_hierarchical</c>, one row).</summary>
    /// <returns>Per slot its logical expert and replica rank; per logical expert its replica count.</returns>
    private static (int[] Phy2Log, int[] PhyRank, int[] LogCnt) RebalanceLayer(float[] loads, int replicas, int groups, int nodes, int gpus)
    {
        int experts = loads.Length;
        int expertsPerNode = experts / nodes, slotsPerNode = replicas / nodes;
        int[] nodeOrder = GroupsToNodes(loads, groups, nodes);   // node-major expert order ("meta-logical" ids)
        var phy2log = new int[replicas];
        var phyRank = new int[replicas];
        var logcnt = new int[experts];
        for (int node = 0; node < nodes; node++)
        {
            int[] nodeExperts = nodeOrder[(node * expertsPerNode)..((node + 1) * expertsPerNode)];
            float[] nodeLoads = nodeExperts.Select(e => loads[e]).ToArray();
            // Step 2: replicate within the node.
            var (local, rank, count) = ExpertReplication.Replicate(nodeLoads, slotsPerNode);
            // Step 3: pack the node's replicas onto its GPUs, each replica carrying an equal share of its expert's load.
            float[] replicaLoads = local.Select(i => nodeLoads[i] / count[i]).ToArray();
            int[] slot = SlotsWithinNode(replicaLoads, gpus / nodes);
            for (int r = 0; r < slotsPerNode; r++)
            {
                int global = node * slotsPerNode + slot[r];
                phy2log[global] = nodeExperts[local[r]];
                phyRank[global] = rank[r];
            }
            for (int i = 0; i < expertsPerNode; i++)
                logcnt[nodeExperts[i]] = count[i];
        }
        return (phy2log, phyRank, logcnt);
    }

    /// <summary>
    /// Step 1: packs whole expert groups onto nodes by group load.
    /// </summary>
    /// <returns>Logical experts in node-major order: node n owns positions [n·E/nodes, (n+1)·E/nodes), its groups in
    /// the order they were packed, each group's experts in their own order.</returns>
    private static int[] GroupsToNodes(float[] loads, int groups, int nodes)
    {
        int groupSize = loads.Length / groups, groupsPerNode = groups / nodes;
        var groupLoads = new float[groups];
        for (int e = 0; e < loads.Length; e++) groupLoads[e / groupSize] += loads[e];
        var (node, rankInNode) = BalancedPacking.Pack(groupLoads, nodes);
        var order = new int[loads.Length];
        for (int e = 0; e < loads.Length; e++)
        {
            int g = e / groupSize;
            order[(node[g] * groupsPerNode + rankInNode[g]) * groupSize + e % groupSize] = e;
        }
        return order;
    }

    /// <summary>The slot within the node of each replica: its GPU's first slot plus its place on that GPU.</summary>
    private static int[] SlotsWithinNode(float[] replicaLoads, int gpusPerNode)
    {
        int perGpu = replicaLoads.Length / gpusPerNode;
        var (gpu, rankInGpu) = BalancedPacking.Pack(replicaLoads, gpusPerNode);
        return gpu.Select((g, r) => g * perGpu + rankInGpu[r]).ToArray();
    }
}
