using DeepSeekV3.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// A bias-free linear map y = x·Wᵀ, W [out, in] (every DeepSeek projection, the router aside). Checkpoint name:
/// <c>weight</c>. A single row with bf16 weights, without autograd, on the CPU (batch-1 bf16 decoding) runs
/// <see cref="SmallBatchLinear"/>; everything else runs LibTorch's linear. The benchmarks decide the policy: on one
/// thread our kernel is 1.5× LibTorch for one bf16 row of a 4096×4096 weight, merely equal for one fp32 row (and a
/// little slower on the bundled model's small fp32 matrices), and behind from two rows on.
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

    /// <summary>Use the small-batch kernel where it applies (on by default; off to compare against LibTorch).</summary>
    public bool UseSmallBatchKernel { get; set; } = true;

    /// <summary>x: [..., in] → [..., out].</summary>
    public override Tensor forward(Tensor x)
    {
        var weight = Weight;
        bool oneBf16Row = weight.dtype == ScalarType.BFloat16 && x.NumberOfElements == x.shape[^1];
        return UseSmallBatchKernel && oneBf16Row && SmallBatchLinear.Supports(x, weight)
            ? SmallBatchLinear.Forward(x, weight)
            : nn.functional.linear(x, weight);
    }
}
