namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// How expert-parallel inference places and re-plans the routed experts.
/// </summary>
/// <param name="RedundantExpertsPerRank">K: physical slots per rank beyond its n_routed_experts / ranks own ones, so
/// n_routed_experts + ranks·K physical experts in all (report §3.4.1: prefill ran 256 + 32 on 32 GPUs, one per GPU).</param>
/// <param name="RebalanceEvery">Re-plan with EPLB after every this many decode steps from the loads observed since the
/// last re-plan (0: never; the placement stays the initial one).</param>
/// <param name="RanksPerNode">Ranks per node; EPLB's hierarchical policy applies when n_group divides over the
/// ranks / RanksPerNode nodes, its global one otherwise. Default: all ranks on one node.</param>
public sealed record ExpertParallelInferenceOptions(int RedundantExpertsPerRank = 0, int RebalanceEvery = 0, int? RanksPerNode = null);
