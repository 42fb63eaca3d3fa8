using DeepSeekV3.Precision;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// h = silu(a) ⊙ b for a MoE expert, whose backward keeps only a and b in FP8 (1×128 tiles along the intermediate
/// dimension) and recomputes the SwiGLU from them (report §3.3.3 "Low-Precision Activation", (2) "Inputs of the
/// SwiGLU operator in MoE"). LibTorch's own autograd of the same expression keeps three float32 tensors of the
/// shape of a: a (for silu), silu(a) and b (for the product). Forward uses the exact a and b.
/// </summary>
internal sealed class Fp8CachedSwiGlu : autograd.SingleTensorFunction<Fp8CachedSwiGlu>
{
    private const int Group = TileQuantization.GroupSize;

    public override string Name => nameof(Fp8CachedSwiGlu);

    /// <summary>vars: a = gate_proj(x) [..., inter], b = up_proj(x) [..., inter], the <see cref="Fp8Scaling"/> of the cache.</summary>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (a, b, scaling) = ((Tensor)vars[0], (Tensor)vars[1], (Fp8Scaling)vars[2]);
        ctx.save_for_backward([.. Cache(a, b, scaling)]);
        ctx.save_data("shape", a.shape);
        return nn.functional.silu(a) * b;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var shape = (long[])ctx.get_data("shape");
        using var scope = NewDisposeScope();
        var a = TileQuantization.Decode(saved[0], saved[1], 1, Group).view(shape);           // [..., inter]
        var b = TileQuantization.Decode(saved[2], saved[3], 1, Group).view(shape);
        var sigmoid = a.sigmoid();
        var silu = a * sigmoid;                                                               // recomputed
        // d silu(a)/da = σ(a)·(1 + a·(1 − σ(a)))
        var gradA = gradOutput * b * (sigmoid * (1 + a * (1 - sigmoid)));
        var gradB = gradOutput * silu;
        // The native side takes the returned handles after this method returns: keep them out of every scope.
        return [gradA.DetachFromDisposeScope(), gradB.DetachFromDisposeScope(), null!];
    }

    /// <summary>What backward keeps: a's and b's E4M3 codes and scales, [T, inter] and [T, ⌈inter/128⌉] each.</summary>
    internal static Tensor[] Cache(Tensor a, Tensor b, Fp8Scaling scaling)
    {
        var aq = TileQuantization.Quantize(a.detach().reshape(-1, a.shape[^1]), 1, Group, scaling);
        var bq = TileQuantization.Quantize(b.detach().reshape(-1, b.shape[^1]), 1, Group, scaling);
        return [aq.Codes, aq.Scales, bq.Codes, bq.Scales];
    }
}
