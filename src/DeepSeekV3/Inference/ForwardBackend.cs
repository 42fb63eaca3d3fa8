using DeepSeekV3.Configuration;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// How generation runs the model, chosen once per generation: <see cref="TorchForwardBackend"/> (LibTorch for every
/// pass, the reference) or <see cref="FusedForwardBackend"/> (the fused decoder for passes of a few token rows). Every
/// pass continues the cache's batch sequences (<see cref="PagedLatentCache.SetBatch"/>) where their entries end: the
/// cache is the one source of positions. The caller owns every returned tensor.
/// </summary>
public abstract class ForwardBackend : IDisposable
{
    /// <summary>The fused decoder where the model allows it (CPU, fp32/bf16 weights, absorbed attention, AVX-512)
    /// and <paramref name="fused"/> asks for it; LibTorch otherwise.</summary>
    public static ForwardBackend Create(DeepSeekV3ForCausalLM model, AttentionMode mode = AttentionMode.Absorbed, bool fused = true) =>
        fused && mode == AttentionMode.Absorbed && FusedDecoder.Supports(model)
            ? new FusedForwardBackend(model)
            : new TorchForwardBackend(model, mode);

    protected ForwardBackend(DeepSeekV3ForCausalLM model) : this(model.Config, model)
    {
    }

    /// <summary>A backend for <paramref name="config"/>'s model, with the LibTorch model or (null) without one: its
    /// weights come from elsewhere (<see cref="FusedWeightsBackend"/>).</summary>
    protected ForwardBackend(ModelConfig config, DeepSeekV3ForCausalLM? model)
    {
        Config = config;
        TorchModel = model;
    }

    public ModelConfig Config { get; }

    /// <summary>The LibTorch model, or null for a backend without one.</summary>
    public DeepSeekV3ForCausalLM? TorchModel { get; }

    /// <summary>The LibTorch model; throws for a backend without one.</summary>
    public DeepSeekV3ForCausalLM Model => TorchModel ?? throw new InvalidOperationException(
        "this backend runs on a checkpoint's weights without a LibTorch model");

    /// <summary>The dtype and device of the latent cache this backend reads and writes: the model's head weight's.</summary>
    public virtual (ScalarType Dtype, Device Device) CacheType => (Model.LmHead.Weight.dtype, Model.LmHead.Weight.device);

    /// <summary>Token rows (batch × new tokens) one <see cref="Step"/> takes at most.</summary>
    public abstract int MaxRows { get; }

    /// <summary>tokens [batch, s] → logits [batch, s, vocab] and the hidden state after model.norm [batch, s, hidden].</summary>
    public abstract ModelOutput Step(Tensor tokens, PagedLatentCache cache);

    /// <summary>
    /// One sequence's prompt tokens (the cache's batch is that sequence): the last position's logits [1, 1, vocab] and
    /// the hidden state after model.norm [1, n, hidden] at every position with <paramref name="everyHidden"/> (MTP
    /// drafting reads them), else at least at the last.
    /// </summary>
    public abstract ModelOutput Prefill(long[] tokens, PagedLatentCache cache, bool everyHidden);

    /// <summary>
    /// MTP module <paramref name="depth"/> over previous h^{k-1} [batch, s, hidden] and tokens t_{i+k} [batch, s],
    /// continuing that module's cache layer. Returns what a draft needs: the last position's logits [batch, 1, vocab]
    /// and h^k there.
    /// </summary>
    public abstract ModelOutput DraftMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache);

    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>The last position of an output that has every position.</summary>
    protected static ModelOutput LastPosition(ModelOutput output)
    {
        using (output)
            return new ModelOutput(output.Logits.narrow(1, output.Logits.shape[1] - 1, 1).clone(), output.Hidden.narrow(1, output.Hidden.shape[1] - 1, 1).clone());
    }
}
