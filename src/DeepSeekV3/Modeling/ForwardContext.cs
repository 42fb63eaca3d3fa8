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

    /// <summary>Absolute positions [batch or 1, seq] (int64) of the input tokens of <paramref name="layer"/>.</summary>
    public Tensor Positions(int layer, long sequenceLength, Device device) =>
        Cache?.Positions(layer, sequenceLength, device) ??
        arange(sequenceLength, dtype: ScalarType.Int64, device: device).unsqueeze(0);
}
