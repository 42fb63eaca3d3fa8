using System.Runtime.InteropServices;
using DeepSeekV3.Distributed;
using DeepSeekV3.Inference.Eplb;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// The routed experts of every MoE layer spread over an expert-parallel group as EPLB's physical experts
/// (<see cref="ExpertPlacement"/>: rank r holds the slots [r·S, (r+1)·S), some of them replicas of busy experts), for
/// inference: no autograd, no graph. Attention is replicated (every rank runs the same sequences), so every rank
/// has every token and every route, and it decides every pair's replica the same way without asking the others.
/// <para>
/// Each token is owned by one rank (rank r owns rows [r·N/W, (r+1)·N/W) of the layer's N tokens). The owner sends
/// each (token, expert) pair to the rank of ONE replica of the expert (dispatch, all-to-all-v), that rank runs each
/// of its experts once over all the rows it received, the outputs come back to the owner (combine, the reverse
/// all-to-all-v), the owner adds them weighted by the router weights in fp32, each token's experts in ascending
/// order as <see cref="LocalExpertExecutor"/> does, and the owners' sums are all-gathered so every rank continues
/// with the same hidden state. The dispatch carries rows the receiver could have read from its own copy: it is the
/// exchange a server with data-parallel attention (each rank its own requests) needs, where the all-gather, the
/// cost of replicated attention, would go away.
/// </para>
/// <para>
/// Replica choice: round-robin per expert, over the pairs routed to it since the placement took effect, in pair
/// order (token, then its k-th expert). Every replica gets the same share of its expert's pairs to within one, also
/// at batch 1 where a choice by token index would always pick the first replica; and it needs no communication,
/// since every rank sees the same pairs in the same order.
/// </para>
/// </summary>
public sealed class ReplicatedExpertExecutor : IRoutedExpertExecutor
{
    private readonly ICommunicator _group;
    private readonly IReadOnlyDictionary<int, int> _rowOfLayer;
    private ExpertPlacement _placement;
    private int[][] _nextReplica;

    /// <param name="group">The expert-parallel group: every rank of the generation.</param>
    /// <param name="rowOfLayer">Decoder layer index (<see cref="MixtureOfExperts.Layer"/>) → the placement's layer row.</param>
    public ReplicatedExpertExecutor(ICommunicator group, IReadOnlyDictionary<int, int> rowOfLayer, ExpertPlacement placement)
    {
        if (placement.Ranks != group.Size)
            throw new InvalidArgumentException($"placement over {placement.Ranks} ranks for an expert-parallel group of {group.Size}");
        _group = group;
        _rowOfLayer = rowOfLayer;
        _placement = placement;
        _nextReplica = NewCounters(placement);
        Loads = new ExpertLoadWindow(placement.Layers, placement.LogicalExperts);
    }

    /// <summary>Where every physical expert lives. Set it on every rank between two passes, after the weights moved.</summary>
    public ExpertPlacement Placement
    {
        get => _placement;
        set
        {
            _placement = value;
            _nextReplica = NewCounters(value);
        }
    }

    /// <summary>Pairs this rank's experts computed, per layer and logical expert, since the window was last reset.</summary>
    public ExpertLoadWindow Loads { get; }

    /// <summary>Time blocked in the dispatch, combine and all-gather; bytes sent.</summary>
    public CommunicationTimer Timer { get; } = new();

    public Tensor RoutedSum(MixtureOfExperts moe, Tensor tokens, RouterOutput route)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int row = _rowOfLayer.TryGetValue(moe.Layer, out int r)
            ? r : throw new InvalidOperationException($"layer {moe.Layer}: not in the expert placement");
        int n = (int)tokens.shape[0], topK = (int)route.Indices.shape[1], ranks = _group.Size, me = _group.Rank;
        long width = tokens.shape[1];
        long[] experts = route.Indices.reshape(-1).cpu().data<long>().ToArray();                // [N·K], pair p = t·K + k
        int[] destination = ChooseReplicas(row, experts);
        int[] ownerOfToken = Enumerable.Range(0, n).Select(t => Enumerable.Range(0, ranks).Last(o => OwnedRows(o, n, ranks).First <= t)).ToArray();
        int Owner(int pair) => ownerOfToken[pair / topK];

        // Dispatch: this rank sends its tokens' pairs grouped by destination rank; each rank receives, source by
        // source, that source's pairs to it. Everyone knows every pair, so the counts need no exchange.
        var sent = Enumerable.Range(0, ranks).SelectMany(d => Pairs(experts.Length, p => destination[p] == d && Owner(p) == me)).ToArray();
        var received = Enumerable.Range(0, ranks).SelectMany(s => Pairs(experts.Length, p => destination[p] == me && Owner(p) == s)).ToArray();
        int[] sendRows = Enumerable.Range(0, ranks).Select(d => sent.Count(p => destination[p] == d)).ToArray();
        int[] receiveRows = Enumerable.Range(0, ranks).Select(s => received.Count(p => Owner(p) == s)).ToArray();

        var send = tokens.index_select(0, Indices(sent.Select(p => (long)(p / topK)))).to(ScalarType.Float32);   // [S, hidden]
        var arrived = Exchange(send, sendRows, receiveRows, width);                                                // [R, hidden]
        var output = RunExperts(moe, row, arrived, received.Select(p => experts[p]).ToArray(), tokens.dtype);   // [R, hidden] fp32
        var back = Exchange(output, receiveRows, sendRows, width);                                                 // [S, hidden], send order

        var (first, owned) = OwnedRows(me, n, ranks);
        var sums = WeightedSum(back, sent, experts, route.Weights, topK, first, owned, width);                    // [owned, hidden]
        return GatherOwned(sums, n, width).MoveToOuterDisposeScope();                                              // [N, hidden] fp32
    }

    /// <summary>Rank of the replica each pair goes to, advancing the round-robin counters.</summary>
    private int[] ChooseReplicas(int row, long[] experts)
    {
        var destination = new int[experts.Length];
        for (int p = 0; p < experts.Length; p++)
        {
            int expert = (int)experts[p];
            var slots = _placement.SlotsOf(row, expert);
            int slot = slots[_nextReplica[row][expert]++ % slots.Length];
            destination[p] = _placement.RankOfSlot(slot);
        }
        return destination;
    }

    /// <summary>Runs each logical expert once over the rows it received (given per row) and returns the outputs in the
    /// received order.</summary>
    private Tensor RunExperts(MixtureOfExperts moe, int row, Tensor arrived, long[] expertOfRow, ScalarType dtype)
    {
        var output = zeros(arrived.shape, ScalarType.Float32);
        foreach (var group in Enumerable.Range(0, expertOfRow.Length).GroupBy(i => expertOfRow[i]).OrderBy(g => g.Key))
        {
            var rows = Indices(group.Select(i => (long)i));
            var result = moe.Expert((int)group.Key).forward(arrived.index_select(0, rows).to(dtype));            // [n_e, hidden]
            output.index_copy_(0, rows, result.to(ScalarType.Float32));
            Loads.Add(row, (int)group.Key, rows.shape[0]);
        }
        return output;
    }

    /// <summary>The owner's routed sum: Σ_k w_{t,k}·expert(u_t) over its tokens, each token's experts added in ascending
    /// expert order.</summary>
    private static Tensor WeightedSum(Tensor back, int[] sent, long[] experts, Tensor routeWeights, int topK, int first, int owned, long width)
    {
        float[] weights = routeWeights.reshape(-1).to(ScalarType.Float32).cpu().data<float>().ToArray();
        int[] order = Enumerable.Range(0, sent.Length).OrderBy(i => experts[sent[i]]).ThenBy(i => sent[i]).ToArray();
        var rows = back.index_select(0, Indices(order.Select(i => (long)i)));
        var weight = tensor(order.Select(i => weights[sent[i]]).ToArray()).unsqueeze(1);
        var token = Indices(order.Select(i => (long)(sent[i] / topK - first)));
        return zeros(owned, width, ScalarType.Float32).index_add(0, token, rows * weight, Scalars.OneDouble);
    }

    /// <summary>Every rank's owned sums, in token order, on every rank.</summary>
    private Tensor GatherOwned(Tensor sums, int n, long width)
    {
        var all = empty(n, width, ScalarType.Float32);
        int[] counts = Enumerable.Range(0, _group.Size).Select(s => checked((int)(OwnedRows(s, n, _group.Size).Count * width))).ToArray();
        var own = sums.contiguous();
        long started = Timer.StartBlocking();
        _group.AllGatherV<float>(MemoryMarshal.Cast<byte, float>(own.bytes), MemoryMarshal.Cast<byte, float>(all.bytes), counts);
        Timer.StopBlocking(started);
        Timer.CountSent(own.numel() * sizeof(float));
        return all;
    }

    private Tensor Exchange(Tensor send, int[] sendRows, int[] receiveRows, long width)
    {
        var exchange = new TokenExchange(_group, sendRows, receiveRows, width, blocking: true, Timer);
        var received = exchange.Begin(send);
        exchange.Wait();
        return received;
    }

    /// <summary>Rank r owns tokens [r·N/W, (r+1)·N/W).</summary>
    private static (int First, int Count) OwnedRows(int rank, int n, int ranks)
    {
        int first = (int)((long)rank * n / ranks), end = (int)((long)(rank + 1) * n / ranks);
        return (first, end - first);
    }

    private static IEnumerable<int> Pairs(int count, Func<int, bool> where) => Enumerable.Range(0, count).Where(where);

    private static Tensor Indices(IEnumerable<long> values) => tensor(values.ToArray(), ScalarType.Int64);

    private static int[][] NewCounters(ExpertPlacement placement) =>
        Enumerable.Range(0, placement.Layers).Select(_ => new int[placement.LogicalExperts]).ToArray();
}
