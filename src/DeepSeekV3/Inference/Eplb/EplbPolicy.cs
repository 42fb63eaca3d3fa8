namespace DeepSeekV3.Inference.Eplb;

/// <summary>Which of EPLB's two strategies a rebalance uses (deepseek-ai/EPLB README, "The Algorithm").</summary>
public enum EplbPolicy
{
    /// <summary>
    /// Expert groups are packed onto nodes, experts replicated within each node, replicas packed onto the node's
    /// GPUs: a group never leaves its node, so group-limited routing stays node-limited. Applies when the groups divide
    /// evenly over the nodes; the README suggests it for prefill (smaller expert-parallel size).
    /// </summary>
    Hierarchical,

    /// <summary>
    /// Experts replicated over the whole cluster, ignoring groups, and the replicas packed onto all GPUs. Applies
    /// otherwise; the README suggests it for decode (larger expert-parallel size).
    /// </summary>
    Global,
}
