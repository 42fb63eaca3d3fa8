using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// A bias-free linear map y = x·Wᵀ, W [out, in] (every DeepSeek projection, the router aside). Checkpoint name:
/// <c>weight</c>. LibTorch's linear unless training set a lower precision (<see cref="DeepSeekV3ForCausalLM.SetPrecision"/>):
/// this is the reference path; the fused decoder has its own kernels and is tested against it.
/// </summary>
public sealed class Projection : nn.Module<Tensor, Tensor>
{
    public Projection(long inFeatures, long outFeatures) : base(nameof(Projection))
    {
        var weight = empty(outFeatures, inFeatures);
        // LibTorch's own Linear default, so an uninitialized model is still well-scaled.
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        register_parameter("weight", nn.Parameter(weight));
    }

    // Looked up by name: Module.to() replaces parameters, so a stored reference would go stale.
    public Parameter Weight => get_parameter("weight")!;

    /// <summary>Set by a pipeline schedule that splits backward into input and weight gradients (zero-bubble); null
    /// everywhere else, where this is LibTorch's linear and nothing more.</summary>
    public WeightGradientQueue? WeightGradients { get; set; }

    /// <summary>The precision of the three GEMMs (bfloat16 or FP8); null: float32, LibTorch's linear.</summary>
    internal ILinearGemms? Gemms { get; set; }

    /// <summary>x: [..., in] → [..., out].</summary>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>x: [T, in] → [T, out], with x also given already quantized (<paramref name="quantizedInput"/>, the MoE's
    /// FP8 dispatch), which an FP8 precision multiplies instead of quantizing x again; the others ignore it.</summary>
    internal Tensor Forward(Tensor x, Precision.QuantizedMatrix? quantizedInput)
    {
        bool graph = is_grad_enabled() && (Weight.requires_grad || x.requires_grad);
        if (Gemms is null && !(graph && WeightGradients is not null))
            return nn.functional.linear(x, Weight);
        if (graph)
            return quantizedInput is null
                ? DeferrableLinear.apply(x, Weight, Gemms ?? Float32Gemms.Instance, WeightGradients!)
                : DeferrableLinear.apply(x, Weight, Gemms ?? Float32Gemms.Instance, WeightGradients!, quantizedInput);
        using var scope = NewDisposeScope();
        var x2 = x.reshape(-1, x.shape[^1]);                                                  // [T, in]
        var y = quantizedInput is null ? Gemms!.Forward(x2, Weight, out _) : Gemms!.Forward(x2, quantizedInput, Weight, out _);
        return y.view([.. x.shape[..^1], Weight.shape[0]]).MoveToOuterDisposeScope();       // [..., out]
    }
}
