using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// RMSNorm (Zhang & Sennrich 2019, arXiv 1910.07467): y = w ⊙ x / sqrt(mean(x²) + eps), statistics in fp32. The weight is applied after the cast
/// back to the input dtype, as HF's DeepseekV3RMSNorm and DeepSeek's first release do (docs/reference-notes.md#rmsnorm-rounding-order).
/// Checkpoint name: <c>weight</c>.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Scalar _eps;

    public RmsNorm(long size, double eps) : base(nameof(RmsNorm))
    {
        _eps = eps.ToScalar();
        register_parameter("weight", nn.Parameter(ones(size)));
    }

    // Looked up by name: Module.to() replaces parameters, so a stored reference would go stale.
    public Parameter Weight => get_parameter("weight")!;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var xf = x.to(ScalarType.Float32);
        var normalized = xf * rsqrt(xf.pow(Scalars.Two).mean([-1], keepdim: true) + _eps);
        return (Weight * normalized.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
