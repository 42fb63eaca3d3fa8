using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// What one forward pass needs besides the tokens: attention evaluation, an optional latent cache, and an optional
/// sink for router decisions (training statistics). Passed explicitly through the model; nothing is global.
/// Positions have one source: with a cache, each sequence's new tokens continue where its cache ends
/// (<see cref="ILatentKvCache.Positions"/>); without one, a pass covers positions 0..s−1.
/// </summary>
public sealed record ForwardContext
{
    public AttentionMode Mode { get; init; } = AttentionMode.Absorbed;

    public ILatentKvCache? Cache { get; init; }

    public RoutingTrace? Routing { get; init; }

    /// <summary>
    /// A training loss on router decisions (the already weighted balance loss of the routers in a trace). Blocks that
    /// recompute themselves in backward (<see cref="RecomputeMode.Block"/>) back-propagate it from their recomputed
    /// routers, since the first forward ran without a graph.
    /// </summary>
    public Func<RoutingTrace, Tensor?>? RoutingLoss { get; init; }

    /// <summary>
    /// Packed fine-tuning (document masking): the document index of every input token, [batch, seq] int64,
    /// non-decreasing along a row. A token then attends only to earlier tokens of its own document, and positions
    /// restart at 0 at each document's first token, so a packed window computes what each document alone would
    /// (HF's DataCollatorWithFlattening / flash-attention varlen and Megatron's reset_attention_mask +
    /// reset_position_ids do the same). Null (pre-training, inference): plain causal attention over the window.
    /// Not combinable with a cache.
    /// </summary>
    public Tensor? Segments { get; init; }

    /// <summary>Absolute positions [batch or 1, seq] (int64) of the input tokens of <paramref name="layer"/>.</summary>
    public Tensor Positions(int layer, long sequenceLength, Device device)
    {
        if (Segments is { } segments)
            return Cache is null
                ? DocumentPositions(segments.to(device))
                : throw new InvalidArgumentException("document masking (Segments) runs without a KV cache");
        return Cache?.Positions(layer, sequenceLength, device) ??
            Scalars.Arange(sequenceLength, device).unsqueeze(0);
    }

    /// <summary>Each token's index within its document: i − (index of its document's first token), [b, s].</summary>
    public static Tensor DocumentPositions(Tensor segments)
    {
        using var scope = NewDisposeScope();
        long batch = segments.shape[0], length = segments.shape[1];
        var index = Scalars.Arange(length, segments.device).unsqueeze(0).expand(batch, length);
        var first = cat([ones(batch, 1, ScalarType.Bool, segments.device),
                         segments.narrow(1, 1, length - 1).ne(segments.narrow(1, 0, length - 1))], 1);   // [b, s]
        var start = where(first, index, zeros_like(index)).cummax(1).values;                               // last start ≤ i
        return (index - start).MoveToOuterDisposeScope();
    }
}
