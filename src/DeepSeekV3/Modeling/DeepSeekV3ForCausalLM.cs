using DeepSeekV3.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// DeepSeek-V3 language model: <c>model</c> (<see cref="DeepSeekV3Model"/>) and <c>lm_head</c>, so that every
/// parameter's state-dict name is its HF checkpoint tensor name (docs/reference-notes.md#checkpoint-format). Device and dtype follow the module:
/// build, then move with <see cref="To(Device, ScalarType)"/>.
/// </summary>
public sealed class DeepSeekV3ForCausalLM : nn.Module
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    public DeepSeekV3ForCausalLM(ModelConfig config) : base(nameof(DeepSeekV3ForCausalLM))
    {
        ConfigValidator.Validate(config);
        Config = config;
        Model = new DeepSeekV3Model(config);
        LmHead = new Projection(config.HiddenSize, config.VocabSize);
        register_module("model", Model);
        register_module("lm_head", LmHead);
    }

    public ModelConfig Config { get; }
    public DeepSeekV3Model Model { get; }
    public Projection LmHead { get; }

    /// <summary>
    /// tokens: [batch, seq] int64. Returns logits [batch, seq, vocab] and the final hidden state [batch, seq, hidden].
    /// <paramref name="lastOnly"/>: logits of the last position only, [batch, 1, vocab], as a prompt's prefill needs
    /// (the head over every position is a noticeable share of a prefill).
    /// </summary>
    public ModelOutput Forward(Tensor tokens, ForwardContext? context = null, bool lastOnly = false)
    {
        using var scope = NewDisposeScope();
        var hidden = Model.Forward(tokens, context ?? new ForwardContext());
        var logits = LmHead.forward(lastOnly ? hidden.narrow(1, hidden.shape[1] - 1, 1) : hidden);
        return new ModelOutput(logits.MoveToOuterDisposeScope(), hidden.MoveToOuterDisposeScope());
    }

    /// <summary>The final norm and the head over the last block's output [batch, seq, hidden]: logits and the normed
    /// hidden state (h^0 of the MTP chain). A pipeline's last stage ends with this.</summary>
    public ModelOutput Head(Tensor lastBlockOutput)
    {
        using var scope = NewDisposeScope();
        var hidden = Model.Norm.forward(lastBlockOutput);
        var logits = LmHead.forward(hidden);
        return new ModelOutput(logits.MoveToOuterDisposeScope(), hidden.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Runs MTP module <paramref name="depth"/> (1-based). previous: h^{k-1} [batch, s, hidden] for positions i;
    /// nextTokens: t_{i+k} [batch, s]. Returns logits [batch, s, vocab] predicting t_{i+k+1}, and h^k.
    /// </summary>
    public ModelOutput ForwardMtp(int depth, Tensor previous, Tensor nextTokens, ForwardContext? context = null)
    {
        var module = Model.Mtp(depth);
        using var scope = NewDisposeScope();
        var h = module.Forward(previous, Model.EmbedTokens.forward(nextTokens), context ?? new ForwardContext());
        var logits = LmHead.forward(module.SharedHead.Norm.forward(h));                  // eq. (23), shared head
        return new ModelOutput(logits.MoveToOuterDisposeScope(), h.MoveToOuterDisposeScope());
    }

    /// <summary>Moves every parameter to <paramref name="device"/> and <paramref name="dtype"/>; router correction
    /// biases stay fp32 as in the checkpoint (docs/reference-notes.md#router-precision-and-the-correction-bias).</summary>
    public DeepSeekV3ForCausalLM To(Device device, ScalarType dtype)
    {
        this.to(device, dtype);
        return this;
    }

    /// <summary>Sets what every block (main and MTP) recomputes in backward instead of keeping.</summary>
    public void SetRecompute(RecomputeMode mode)
    {
        foreach (var layer in Model.Layers)
            layer.Recompute = mode;
    }

    /// <summary>Sets what the matmuls compute in for training (<see cref="PrecisionPlan"/>): float32, bfloat16, or the
    /// report's FP8 recipe (<paramref name="fp8"/>, default <see cref="Fp8Recipe.Report"/>). Weights stay float32.</summary>
    public void SetPrecision(Precision.TrainingPrecision precision, Precision.Fp8Recipe? fp8 = null) =>
        PrecisionPlan.Apply(this, precision, fp8 ?? Precision.Fp8Recipe.Report);

    /// <summary>Distinct parameters (the MTP modules share embedding and head, counted once).</summary>
    public long ParameterCount => parameters().Sum(p => p.NumberOfElements);
}
