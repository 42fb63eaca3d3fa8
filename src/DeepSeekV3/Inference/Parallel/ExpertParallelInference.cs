using System.Diagnostics;
using DeepSeekV3.Distributed;
using DeepSeekV3.Inference.Eplb;
using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// Expert-parallel generation over the ranks of a group (report §3.4): attention, dense layers, shared experts,
/// embedding and head replicated on every rank, which all run the same requests; the routed experts of every MoE layer
/// (the MTP module's included) spread over the ranks as EPLB's physical experts, n_routed_experts + ranks·K of them,
/// <see cref="ExpertPlacement.SlotsPerRank"/> per rank. The MoE layers dispatch each (token, expert) pair to one
/// replica (<see cref="ReplicatedExpertExecutor"/>). Every <see cref="ExpertParallelInferenceOptions.RebalanceEvery"/>
/// decode steps the loads observed since the last re-plan go to <see cref="ExpertLoadBalancer.Rebalance"/>, and the
/// experts whose rank changed move there (<see cref="ExpertMover"/>) between two decode steps, on every rank at once.
/// Generation goes through <see cref="CreateBackend"/>; every rank must generate the same requests with the same
/// sampling seeds (rank 0's logits decide every token).
/// </summary>
public sealed class ExpertParallelInference
{
    private readonly List<MixtureOfExperts> _layers;
    private readonly ReplicatedExpertExecutor _executor;
    private readonly ExpertParallelInferenceOptions _options;
    private long _decodeSteps;

    /// <summary>Shards <paramref name="model"/> in place (every rank loaded the whole checkpoint) to the initial
    /// placement, <see cref="ExpertPlacement.Initial"/>, and installs the executor in every MoE layer.</summary>
    public ExpertParallelInference(DeepSeekV3ForCausalLM model, ICommunicator group, ExpertParallelInferenceOptions options)
    {
        var config = model.Config;
        int ranks = group.Size, perNode = options.RanksPerNode ?? ranks;
        if (config.NRoutedExperts == 0 || config.NRoutedExperts % ranks != 0)
            throw new InvalidArgumentException($"--ep {ranks}: n_routed_experts {config.NRoutedExperts} must be a positive multiple of the ranks");
        if (perNode < 1 || ranks % perNode != 0)
            throw new InvalidArgumentException($"--ranks-per-node {perNode}: must divide the {ranks} ranks");
        if (options.RebalanceEvery < 0)
            throw new InvalidArgumentException($"--rebalance-every {options.RebalanceEvery}: must be at least 0");
        if (model.LmHead.Weight.device_type != DeviceType.CPU)
            throw new InvalidArgumentException($"expert-parallel inference exchanges CPU tensors; the model is on {model.LmHead.Weight.device}");
        Model = model;
        Group = group;
        _options = options;
        _layers = ExpertParallel.MoeLayers(model).ToList();
        Nodes = ranks / perNode;
        Policy = ExpertLoadBalancer.PolicyFor(config.NGroup, Nodes);
        var placement = ExpertPlacement.Initial(_layers.Count, config.NRoutedExperts, ranks, options.RedundantExpertsPerRank);
        ExpertLoadBalancer.Validate(config.NRoutedExperts, placement.PhysicalExperts, config.NGroup, Nodes, ranks);
        _executor = new ReplicatedExpertExecutor(group, _layers.Select((moe, row) => (moe.Layer, row)).ToDictionary(), placement);
        for (int row = 0; row < _layers.Count; row++)
        {
            var moe = _layers[row];
            moe.HoldExperts(placement.ExpertsOnRank(row, group.Rank).Select(e => (e, moe.Expert(e))));
            moe.UseExecutor(_executor);
        }
    }

    public DeepSeekV3ForCausalLM Model { get; }
    public ICommunicator Group { get; }
    public int Nodes { get; }

    /// <summary>Which EPLB policy re-plans: hierarchical when n_group divides over the nodes, global otherwise.</summary>
    public EplbPolicy Policy { get; }

    public ExpertPlacement Placement => _executor.Placement;

    /// <summary>Dispatch, combine and all-gather time of every MoE layer.</summary>
    public CommunicationTimer Timer => _executor.Timer;

    /// <summary>Re-plans and the current window's balance, for logs and metrics.</summary>
    public ExpertBalanceMetrics Metrics { get; } = new();

    /// <summary>Called with every re-plan, on every rank, right after it took effect.</summary>
    public event Action<ExpertReplan>? Replanned;

    /// <summary>The backend a <see cref="GenerationBatch"/> runs on (LibTorch passes; the fused decoder is
    /// single-process). The batch owns and disposes it.</summary>
    public ForwardBackend CreateBackend(AttentionMode mode = AttentionMode.Absorbed) => new ExpertParallelBackend(this, mode);

    /// <summary>Before each decode step: re-plans when <see cref="ExpertParallelInferenceOptions.RebalanceEvery"/> steps
    /// have run since the last one. Every rank calls it at the same step.</summary>
    internal void BeforeDecodeStep()
    {
        if (_options.RebalanceEvery > 0 && _decodeSteps > 0 && _decodeSteps % _options.RebalanceEvery == 0)
            Rebalance();
        _decodeSteps++;
    }

    /// <summary>Collective: the balance measured over the window since the last re-plan (also kept in
    /// <see cref="Metrics"/>).</summary>
    public ExpertBalance Observe()
    {
        var balance = ExpertBalance.Of(_executor.Loads.Gather(Group).RankLoads);
        Metrics.Record(balance);
        return balance;
    }

    /// <summary>
    /// Collective: re-plans from the loads observed since the last re-plan and moves the experts. A layer keeps its
    /// placement when EPLB's would not be more balanced on the same loads (EPLB plans from scratch, so it would often
    /// move experts for nothing), among them every layer that carried no load in the window (the MTP module's without
    /// speculative decoding).
    /// </summary>
    public ExpertReplan Rebalance()
    {
        var clock = Stopwatch.StartNew();
        var (loads, rankLoads) = _executor.Loads.Gather(Group);
        var old = Placement;
        var planned = ExpertLoadBalancer.Rebalance(loads, old.PhysicalExperts, Model.Config.NGroup, Nodes, Group.Size);
        double[] oldBalance = old.Balancedness(loads), plannedBalance = planned.Balancedness(loads);
        var phy2log = Enumerable.Range(0, old.Layers)
            .Select(l => (plannedBalance[l] > oldBalance[l] ? planned : old).Phy2Log[l].ToArray()).ToArray();
        var next = ExpertPlacement.FromSlots(phy2log, old.LogicalExperts, old.Ranks);
        var (transfers, bytes) = ExpertMover.Move(Group, old, next, _layers, Model.Config);
        _executor.Placement = next;
        _executor.Loads.Reset();
        var predicted = Enumerable.Range(0, next.Layers).Select(l => next.RankLoads(l, loads[l])).ToArray();
        var replan = new ExpertReplan(_decodeSteps, Policy, ExpertBalance.Of(rankLoads), ExpertBalance.Of(predicted),
            transfers.Count, bytes, clock.Elapsed.TotalSeconds);
        Metrics.Record(replan);
        Replanned?.Invoke(replan);
        return replan;
    }
}
