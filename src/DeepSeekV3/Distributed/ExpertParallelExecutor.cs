using System.Runtime.InteropServices;
using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Distributed;

/// <summary>
/// The routed experts of a DeepSeekMoE layer sharded over an expert-parallel group (report §3.2.2): group rank s
/// holds experts [s·L, (s+1)·L), L = n_routed_experts / E. Each (token, expert) pair is sent to the owner of its
/// expert (dispatch, all-to-all-v), every local expert runs once over all the rows it received from every rank,
/// and the outputs come back the same way reversed (combine). The source weights them by the router weights (so
/// the router's gradient stays where the router is) and adds them in fp32, pairs in ascending expert order, as
/// <see cref="LocalExpertExecutor"/> does. No capacity limit: no token is dropped. A token whose K experts share a
/// rank is sent once per expert (DeepEP sends it once per node; not done here).
/// <para>
/// With <c>overlap</c>, each layer's tokens go as two micro-batches: B's dispatch is on the wire while A's experts
/// compute, A's combine while B's compute; backward mirrors it (see <see cref="TokenExchangeEnd"/>). Without it,
/// one micro-batch and blocking transfers. Either way every rank must run the same layers in the same order, which
/// training does. Rows travel as fp32 whatever the model's dtype.
/// </para>
/// </summary>
public sealed class ExpertParallelExecutor : IRoutedExpertExecutor
{
    private readonly ICommunicator _group;

    /// <param name="group">The expert-parallel group; its rank s holds experts [s·L, (s+1)·L).</param>
    public ExpertParallelExecutor(ICommunicator group, int routedExperts, bool overlap, CommunicationTimer? timer = null)
    {
        if (routedExperts % group.Size != 0)
            throw new InvalidArgumentException($"n_routed_experts {routedExperts} must divide evenly over {group.Size} expert-parallel ranks");
        _group = group;
        RoutedExperts = routedExperts;
        ExpertsPerRank = routedExperts / group.Size;
        Overlap = overlap;
        Timer = timer ?? new CommunicationTimer();
    }

    public int RoutedExperts { get; }
    public int ExpertsPerRank { get; }
    public bool Overlap { get; }

    /// <summary>Communication of every layer this executor serves; the owner reads and resets it per step.</summary>
    public CommunicationTimer Timer { get; }

    public Tensor RoutedSum(MixtureOfExperts moe, Tensor tokens, RouterOutput route)
    {
        if (moe.RoutedExperts != RoutedExperts || moe.LocalExperts != (_group.Rank * ExpertsPerRank, ExpertsPerRank))
            throw new InvalidOperationException(
                $"layer {moe.Layer}: holds experts [{moe.LocalExperts.First}, +{moe.LocalExperts.Count}) of {moe.RoutedExperts}; " +
                $"expert-parallel rank {_group.Rank} of {_group.Size} must hold [{_group.Rank * ExpertsPerRank}, +{ExpertsPerRank}) of {RoutedExperts}");
        using var scope = NewDisposeScope();
        long n = tokens.shape[0];
        // Every rank runs the same number of micro-batches, even when one of them is empty, so that the
        // collectives match across ranks.
        var bounds = Overlap ? new[] { (0L, n / 2), (n / 2, n - n / 2) } : new[] { (0L, n) };
        var parts = bounds.Select(b => Plan(tokens.narrow(0, b.Item1, b.Item2), route.Indices.narrow(0, b.Item1, b.Item2),
                                            route.Weights.narrow(0, b.Item1, b.Item2))).ToArray();
        var pending = parts.Select(p => TokenExchangeBegin.apply(p.Send, p.Dispatch)).ToArray();     // all dispatches start
        var combined = new Tensor[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            var received = TokenExchangeEnd.apply(pending[i], parts[i].Dispatch);                  // [R, hidden] fp32
            var output = RunLocalExperts(moe, parts[i], received, tokens.dtype, parts);             // [R, hidden] fp32
            combined[i] = TokenExchangeBegin.apply(output, parts[i].Combine);                       // combine starts
        }
        var sums = new Tensor[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            var back = TokenExchangeEnd.apply(combined[i], parts[i].Combine);                       // [N·K, hidden] fp32
            var weighted = back * parts[i].WeightOfPair.unsqueeze(1);
            sums[i] = zeros(parts[i].Tokens, tokens.shape[1], dtype: ScalarType.Float32).index_add(0, parts[i].TokenOfPair, weighted, Scalars.OneDouble);
        }
        return (sums.Length == 1 ? sums[0] : cat(sums, 0)).MoveToOuterDisposeScope();
    }

    /// <summary>Sorts one micro-batch's pairs by destination and exchanges the per-expert counts.</summary>
    private Part Plan(Tensor tokens, Tensor indices, Tensor weights)
    {
        int topK = (int)indices.shape[1];
        // Experts are laid out by rank, so sorting pairs by expert sorts them by (destination rank, local expert).
        var flatExperts = indices.reshape(-1);                                                       // [N·K]
        var order = flatExperts.argsort();
        using var k = topK.ToScalar();
        var tokenOfPair = order.div(k, rounding_mode: RoundingMode.floor);
        var weightOfPair = weights.reshape(-1).index_select(0, order);
        int[] sendPerExpert = flatExperts.bincount(null, RoutedExperts).cpu().to(ScalarType.Int32).data<int>().ToArray();
        int[] receivePerExpert = new int[RoutedExperts];                                             // [source rank, local expert]
        long started = Timer.StartBlocking();
        _group.AllToAll<int>(sendPerExpert, receivePerExpert);
        Timer.StopBlocking(started);
        Timer.CountSent(sendPerExpert.Length * sizeof(int));

        int[] sendRows = PerRank(sendPerExpert);
        int[] receiveRows = PerRank(receivePerExpert);
        long width = tokens.shape[1];
        var send = tokens.index_select(0, tokenOfPair).to(ScalarType.Float32);                    // [N·K, hidden]
        return new Part(tokens.shape[0], tokenOfPair, weightOfPair, send, receivePerExpert,
            new TokenExchange(_group, sendRows, receiveRows, width, !Overlap, Timer),
            new TokenExchange(_group, receiveRows, sendRows, width, !Overlap, Timer));
    }

    /// <summary>received: rows by (source rank, local expert). Runs each local expert once over its rows from every
    /// source and returns the outputs in the received order.</summary>
    private Tensor RunLocalExperts(MixtureOfExperts moe, Part part, Tensor received, ScalarType dtype, Part[] inFlight)
    {
        var (first, perRank) = moe.LocalExperts;
        int sources = _group.Size;
        // Row offsets of block (source s, local expert j) in the received order.
        var offset = new long[sources, perRank];
        long at = 0;
        for (int s = 0; s < sources; s++)
            for (int j = 0; j < perRank; j++) { offset[s, j] = at; at += part.ReceivePerExpert[s * perRank + j]; }
        var byExpert = new List<long>((int)at);
        var rowsOfExpert = new long[perRank];
        for (int j = 0; j < perRank; j++)
            for (int s = 0; s < sources; s++)
            {
                int count = part.ReceivePerExpert[s * perRank + j];
                for (int r = 0; r < count; r++) byExpert.Add(offset[s, j] + r);
                rowsOfExpert[j] += count;
            }
        var permutation = tensor(byExpert.ToArray(), ScalarType.Int64);
        var grouped = received.index_select(0, permutation).to(dtype);                             // [R, hidden] by expert
        var outputs = new List<Tensor>();
        long start = 0;
        for (int j = 0; j < perRank; j++)
        {
            if (rowsOfExpert[j] == 0) continue;
            outputs.Add(moe.Expert(first + j).forward(grouped.narrow(0, start, rowsOfExpert[j])).to(ScalarType.Float32));
            start += rowsOfExpert[j];
            foreach (var other in inFlight) other.Progress();
        }
        // No rows: keep the (empty) result on the graph anyway, so that every rank runs the combine's backward.
        var byExpertOutput = outputs.Count == 0 ? grouped.to(ScalarType.Float32) : cat(outputs, 0);
        var inverse = empty_like(permutation).index_put_(Scalars.Arange(permutation.shape[0], permutation.device), permutation);
        return byExpertOutput.index_select(0, inverse);
    }

    private int[] PerRank(int[] perExpert)
    {
        var rows = new int[_group.Size];
        for (int e = 0; e < perExpert.Length; e++) rows[e / ExpertsPerRank] += perExpert[e];
        return rows;
    }

    /// <summary>One micro-batch in flight.</summary>
    private sealed record Part(long Tokens, Tensor TokenOfPair, Tensor WeightOfPair, Tensor Send, int[] ReceivePerExpert,
                               TokenExchange Dispatch, TokenExchange Combine)
    {
        public void Progress()
        {
            Dispatch.Progress();
            Combine.Progress();
        }
    }
}
