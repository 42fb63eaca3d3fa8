using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Every routed expert in this process. Tokens are grouped by expert (one sort), so each expert runs one batched
/// GEMM over exactly its tokens; no per-token loop, no token dropping. Weighted expert outputs are accumulated in
/// fp32, expert by expert in ascending order (HF's order; docs/reference-notes.md#moe-combine-order). Stateless:
/// one instance serves every layer.
/// </summary>
public sealed class LocalExpertExecutor : IRoutedExpertExecutor
{
    public static LocalExpertExecutor Instance { get; } = new();

    public Tensor RoutedSum(MixtureOfExperts moe, Tensor tokens, RouterOutput route)
    {
        using var scope = NewDisposeScope();
        int topK = (int)route.Indices.shape[1];

        // Sort the N·K (token, expert) pairs by expert; each expert's tokens are then one contiguous slice.
        var flatExperts = route.Indices.reshape(-1);                                      // [N·K]
        var order = flatExperts.argsort();
        using var k = topK.ToScalar();
        var tokenOfPair = order.div(k, rounding_mode: RoundingMode.floor);                // [N·K]
        var weightOfPair = route.Weights.reshape(-1).index_select(0, order);              // [N·K]
        long[] counts = flatExperts.bincount(null, moe.RoutedExperts).cpu().data<long>().ToArray();

        // Dispatch: the tokens in expert order, in FP8 as well when the layer says so (quantized once here, not by
        // each expert's gate_proj and up_proj).
        var dispatched = tokens.index_select(0, tokenOfPair);                             // [N·K, hidden]
        using var dispatchedFp8 = moe.DispatchScaling is { } scaling
            ? Precision.TileQuantization.Quantize(dispatched.detach(), 1, Precision.TileQuantization.GroupSize, scaling)
            : null;
        var routed = zeros(tokens.shape, ScalarType.Float32, tokens.device);              // [N, hidden], fp32 sum
        long start = 0;
        for (int e = 0; e < counts.Length; e++)
        {
            if (counts[e] == 0) continue;
            var rows = tokenOfPair.narrow(0, start, counts[e]);
            using var expertFp8 = dispatchedFp8?.RowRange(start, counts[e]);
            var expertOut = moe.RunExpert(e, dispatched.narrow(0, start, counts[e]), expertFp8);   // [n_e, hidden]
            var weighted = expertOut.to(ScalarType.Float32) * weightOfPair.narrow(0, start, counts[e]).unsqueeze(1);
            routed = routed.index_add(0, rows, weighted, Scalars.OneDouble);
            start += counts[e];
        }
        return routed.MoveToOuterDisposeScope();
    }
}
