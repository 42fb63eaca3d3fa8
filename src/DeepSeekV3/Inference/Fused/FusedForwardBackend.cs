using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// Passes of a few token rows (decode steps, speculative verification, MTP drafts, short prompts) on the
/// <see cref="FusedDecoder"/>; long prompts on LibTorch, whose GEMMs win once its fixed cost per forward is spread over
/// enough tokens (crossovers: README, Fused decoder). Both write the same paged cache.
/// </summary>
public sealed class FusedForwardBackend : ForwardBackend
{
    private readonly FusedDecoder _decoder;

    /// <param name="threads">See <see cref="FusedDecoder(DeepSeekV3ForCausalLM, int)"/>.</param>
    public FusedForwardBackend(DeepSeekV3ForCausalLM model, int threads = 0) : base(model) =>
        _decoder = new FusedDecoder(model, threads);

    public override int MaxRows => FusedDecoder.MaxRows;

    public override ModelOutput Step(Tensor tokens, PagedLatentCache cache) => _decoder.Forward(tokens, cache);

    public override ModelOutput Prefill(long[] tokens, PagedLatentCache cache, bool everyHidden)
    {
        if (tokens.Length <= FusedDecoder.PrefillTokens)
            return _decoder.Prefill(tokens, cache, lastOnly: !everyHidden);
        using var ids = tensor(tokens).unsqueeze(0);
        return Model.Forward(ids, new ForwardContext { Cache = cache }, lastOnly: true);
    }

    public override ModelOutput DraftMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache)
    {
        long length = nextTokens.shape[1];
        if (nextTokens.shape[0] != 1 || length > FusedDecoder.PrefillTokens)
            return LastPosition(Model.ForwardMtp(depth, previous, nextTokens, new ForwardContext { Cache = cache }));
        return _decoder.DraftMtp(depth, previous, nextTokens, cache);
    }

    public override void Dispose()
    {
        _decoder.Dispose();
        base.Dispose();
    }
}
