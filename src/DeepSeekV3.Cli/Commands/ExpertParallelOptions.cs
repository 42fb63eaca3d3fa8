using System.CommandLine;
using DeepSeekV3.Distributed;
using DeepSeekV3.Inference.Parallel;

namespace DeepSeekV3.Cli.Commands;

/// <summary>The expert-parallel inference options of `generate` (under mpiexec), and the lines it logs.</summary>
internal sealed class ExpertParallelOptions
{
    public Option<int> Ep { get; } = new("--ep") { Description = "Expert-parallel degree: the routed experts spread over this many ranks (must equal the ranks of the mpiexec job)", DefaultValueFactory = _ => 1 };
    public Option<int> RedundantExperts { get; } = new("--redundant-experts") { Description = "EPLB redundant experts per rank (physical experts: n_routed_experts + ranks × K)", DefaultValueFactory = _ => 0 };
    public Option<int> RebalanceEvery { get; } = new("--rebalance-every") { Description = "Re-plan with EPLB from the observed expert loads every S decode steps and move experts (0: never)", DefaultValueFactory = _ => 0 };
    public Option<int?> RanksPerNode { get; } = new("--ranks-per-node") { Description = "Ranks per node: EPLB is hierarchical when n_group divides over the nodes (default: one node)" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Ep, RedundantExperts, RebalanceEvery, RanksPerNode })
            command.Options.Add(option);
    }

    /// <summary>Null when the generation runs in one process; checks the options against the job.</summary>
    public ExpertParallelInferenceOptions? Read(ParseResult result, ICommunicator world)
    {
        int ep = result.GetValue(Ep);
        if (ep == 1 && world.Size == 1)
        {
            if (result.GetValue(RedundantExperts) != 0 || result.GetValue(RebalanceEvery) != 0)
                throw new InvalidArgumentException("--redundant-experts and --rebalance-every need expert parallelism: --ep N under mpiexec -n N");
            return null;
        }
        if (ep != world.Size)
            throw new InvalidArgumentException($"--ep {ep}: expert-parallel generation spreads the experts over every rank; the job has {world.Size} (mpiexec -n {ep})");
        return new ExpertParallelInferenceOptions(result.GetValue(RedundantExperts), result.GetValue(RebalanceEvery), result.GetValue(RanksPerNode));
    }

    public static string Describe(ExpertParallelInference parallel, ExpertParallelInferenceOptions options, bool torchAsked)
    {
        var placement = parallel.Placement;
        string replan = options.RebalanceEvery > 0 ? $"re-plan every {options.RebalanceEvery} decode steps" : "no re-plan";
        return $"[ep] {parallel.Group.Size} ranks ({parallel.Group.Description}): {placement.PhysicalExperts} physical experts per MoE layer " +
               $"({placement.SlotsPerRank} per rank, {options.RedundantExpertsPerRank} redundant), {parallel.Nodes} node(s), EPLB " +
               $"{parallel.Policy.ToString().ToLowerInvariant()}, {replan}" +
               (torchAsked ? "" : "; LibTorch backend (the fused decoder is single-process)");
    }

    public static IEnumerable<string> Summary(ExpertParallelInference parallel, ExpertBalance current)
    {
        var replans = parallel.Metrics.Replans;
        if (replans.Count > 0)
            yield return $"[eplb] {replans.Count} re-plan(s), {replans.Sum(r => r.ExpertsMoved)} experts moved " +
                         $"({replans.Sum(r => r.BytesMoved) / 1024.0:F0} KiB); balancedness before the first {replans[0].Before.Balancedness:F3}, " +
                         $"planned by the last {replans[^1].After.Balancedness:F3}";
        yield return $"[eplb] since the {(replans.Count > 0 ? "last re-plan" : "start")} ({current.Pairs} pairs): {current}; " +
                     $"expert exchange {parallel.Timer}";
    }
}
