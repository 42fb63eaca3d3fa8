using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>Every pass on the model's LibTorch forward: any device and dtype, either attention mode; the reference the
/// fused backend is tested against.</summary>
public sealed class TorchForwardBackend(DeepSeekV3ForCausalLM model, AttentionMode mode = AttentionMode.Absorbed)
    : ForwardBackend(model)
{
    public AttentionMode Mode { get; } = mode;

    public override int MaxRows => int.MaxValue;

    private ForwardContext Context(PagedLatentCache cache) => new() { Mode = Mode, Cache = cache };

    private Device Device => Model.LmHead.Weight.device;

    public override ModelOutput Step(Tensor tokens, PagedLatentCache cache) =>
        Model.Forward(tokens.to(Device), Context(cache));

    public override ModelOutput Prefill(long[] tokens, PagedLatentCache cache, bool everyHidden)
    {
        using var ids = tensor(tokens, device: Device).unsqueeze(0);
        return Model.Forward(ids, Context(cache), lastOnly: true);
    }

    public override ModelOutput DraftMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache) =>
        LastPosition(Model.ForwardMtp(depth, previous, nextTokens.to(Device), Context(cache)));
}
