using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// What one forward pass needs besides the tokens: attention evaluation, where the sequence starts, an optional
/// latent cache, and an optional sink for router decisions (training statistics). Passed explicitly through the
/// model; nothing is global.
/// </summary>
public sealed record ForwardContext
{
    public AttentionMode Mode { get; init; } = AttentionMode.Absorbed;

    /// <summary>Position of the first input token (tokens already in the cache), when all sequences share it.</summary>
    public long StartPosition { get; init; }

    /// <summary>Per-sequence positions [batch, seq] (int64) when sequences of a batch are at different lengths;
    /// overrides <see cref="StartPosition"/>. Owned by the caller.</summary>
    public Tensor? PositionIds { get; init; }

    public ILatentKvCache? Cache { get; init; }

    public RoutingTrace? Routing { get; init; }

    /// <summary>
    /// A training loss on router decisions (the already weighted balance loss of the routers in a trace). Blocks that
    /// recompute themselves in backward (<see cref="RecomputeMode.Block"/>) back-propagate it from their recomputed
    /// routers, since the first forward ran without a graph.
    /// </summary>
    public Func<RoutingTrace, Tensor?>? RoutingLoss { get; init; }

    /// <summary>Absolute positions [batch or 1, seq] (int64) of the input tokens on <paramref name="device"/>.</summary>
    public Tensor Positions(long sequenceLength, Device device) =>
        PositionIds?.to(device) ??
        arange(StartPosition, StartPosition + sequenceLength, dtype: ScalarType.Int64, device: device).unsqueeze(0);
}
