using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// y = x·Wᵀ whose backward can leave the weight gradient for later (<see cref="WeightGradientQueue"/>). Backward
/// always returns dL/dx = g·W; dL/dW = gᵀ·x is either returned (the queue is not deferring) or queued, keeping x and
/// g alive until it runs and is added to W's grad.
/// </summary>
internal sealed class DeferrableLinear : autograd.SingleTensorFunction<DeferrableLinear>
{
    public override string Name => nameof(DeferrableLinear);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        ctx.save_for_backward([x, weight]);
        ctx.save_data("queue", vars[2]);
        // The module's own parameter object: saved-variable handles belong to the backward call's dispose scope.
        ctx.save_data("parameter", new Owner(weight));
        return nn.functional.linear(x, weight);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (x, weight) = (saved[0], saved[1]);
        var queue = (WeightGradientQueue)ctx.get_data("queue");
        // The native side takes the returned handles after this method returns: keep them out of every scope.
        var gradInput = gradOutput.matmul(weight).DetachFromDisposeScope();
        if (!queue.Deferring)
            return [gradInput, WeightGradient(gradOutput, x).DetachFromDisposeScope(), null!];
        var parameter = ((Owner)ctx.get_data("parameter")).Weight;
        var (g, input) = (gradOutput.detach().DetachFromDisposeScope(), x.detach().DetachFromDisposeScope());
        queue.Add(() =>
        {
            using (g)
            using (input)
            {
                var dw = WeightGradient(g, input);
                if (parameter.grad is { } existing)
                    using (existing)
                    using (dw)
                        existing.add_(dw);
                else
                    parameter.grad = dw;
            }
        });
        return [gradInput, null!, null!];
    }

    /// <summary>The weight as its module holds it (TorchSharp wants tensors in the context only as saved variables).</summary>
    private sealed record Owner(Tensor Weight);

    /// <summary>gᵀ·x over every leading dimension: [out, in].</summary>
    private static Tensor WeightGradient(Tensor gradOutput, Tensor x) =>
        gradOutput.reshape(-1, gradOutput.shape[^1]).t().matmul(x.reshape(-1, x.shape[^1]));
}
