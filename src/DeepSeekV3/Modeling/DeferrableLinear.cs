using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// y = x·Wᵀ as one autograd function over a precision's three GEMMs (<see cref="ILinearGemms"/>: float32, bfloat16 or
/// FP8), whose backward can leave the weight gradient for later (<see cref="WeightGradientQueue"/>). Backward always
/// returns dL/dx; dL/dW is either returned (no queue, or the queue is not deferring) or queued, keeping what the
/// GEMMs saved and g alive until it runs and is added to W's grad.
/// </summary>
internal sealed class DeferrableLinear : autograd.SingleTensorFunction<DeferrableLinear>
{
    public override string Name => nameof(DeferrableLinear);

    /// <summary>vars: x [..., in], weight [out, in], <see cref="ILinearGemms"/>, <see cref="WeightGradientQueue"/> or null,
    /// and optionally x already quantized as [T, in] (<see cref="Precision.QuantizedMatrix"/>, the MoE's FP8 dispatch).</summary>
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        var gemms = (ILinearGemms)vars[2];
        var x2 = x.reshape(-1, x.shape[^1]);                                                // [T, in]
        var y = vars.Length > 4 && vars[4] is Precision.QuantizedMatrix xq                   // [T, out]
            ? gemms.Forward(x2, xq, weight, out var saved)
            : gemms.Forward(x2, weight, out saved);
        ctx.save_for_backward([.. saved]);
        // The module's own parameter object: saved-variable handles belong to the backward call's dispose scope.
        ctx.save_data("state", new State(gemms, vars[3] as WeightGradientQueue, weight, x.shape, vars.Length));
        return y.view([.. x.shape[..^1], weight.shape[0]]);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (gemms, queue, parameter, inputShape, inputs) = (State)ctx.get_data("state");
        var unused = Enumerable.Repeat<Tensor>(null!, inputs - 2);                           // no gradients for the rest
        var g = gradOutput.reshape(-1, gradOutput.shape[^1]);                                // [T, out]
        // The native side takes the returned handles after this method returns: keep them out of every scope.
        var gradInput = gemms.InputGradient(g, saved).view(inputShape).DetachFromDisposeScope();
        if (queue is not { Deferring: true })
            return [gradInput, gemms.WeightGradient(g, saved).DetachFromDisposeScope(), .. unused];
        var kept = saved.Select(t => t.detach().DetachFromDisposeScope()).ToList();
        var gradient = g.detach().DetachFromDisposeScope();
        queue.Add(() =>
        {
            try
            {
                var dw = gemms.WeightGradient(gradient, kept);
                if (parameter.grad is { } existing)
                    using (existing)
                    using (dw)
                        existing.add_(dw);
                else
                    parameter.grad = dw;
            }
            finally
            {
                gradient.Dispose();
                kept.ForEach(t => t.Dispose());
            }
        });
        return [gradInput, null!, .. unused];
    }

    /// <summary>What backward needs besides saved tensors; the weight as its module holds it (TorchSharp wants tensors
    /// in the context only as saved variables).</summary>
    private sealed record State(ILinearGemms Gemms, WeightGradientQueue? Queue, Tensor Parameter, long[] InputShape, int Inputs);
}
