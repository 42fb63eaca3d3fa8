using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace DeepSeekV3.Modeling;

/// <summary>
/// A differentiable function of one tensor whose activations are not kept: the forward pass runs it without a graph
/// and saves only the input; backward runs it again with a graph and back-propagates through that (reentrant
/// activation checkpointing). Parameters receive their gradients inside the nested backward.
/// <para>
/// Routers inside the segment record their decisions in the step's <see cref="RoutingTrace"/> during the first
/// forward (for loads and bias updates). A loss on those decisions (the balance loss) has no graph there, so the
/// recomputation adds its gradient: <see cref="BalanceTerm"/> (the context's <see cref="ForwardContext.RoutingLoss"/>)
/// gets a fresh trace of the recomputed routers and returns the scaled term to back-propagate with the segment's output.
/// </para>
/// </summary>
internal sealed class RecomputedSegment
{
    public RecomputedSegment(Func<Tensor, ForwardContext, Tensor> run, Func<RoutingTrace, Tensor?>? balanceTerm)
    {
        Run = run;
        BalanceTerm = balanceTerm;
    }

    public Func<Tensor, ForwardContext, Tensor> Run { get; }
    public Func<RoutingTrace, Tensor?>? BalanceTerm { get; }

    /// <summary>Applies the segment to <paramref name="input"/>; without grad mode it is just a plain call.</summary>
    public Tensor Apply(Tensor input, ForwardContext context)
    {
        if (!is_grad_enabled())
            return Run(input, context);
        return CheckpointFunction.apply(input, this, context);
    }

    private sealed class CheckpointFunction : SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(RecomputedSegment);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var segment = (RecomputedSegment)vars[1];
            var context = (ForwardContext)vars[2];
            ctx.save_for_backward([input]);
            ctx.save_data("segment", segment);
            ctx.save_data("context", context with { Routing = null });
            return segment.Run(input, context);                                          // grad mode is off here
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            var segment = (RecomputedSegment)ctx.get_data("segment");
            var context = (ForwardContext)ctx.get_data("context");
            Tensor inputGrad;
            using (var scope = NewDisposeScope())
            using (enable_grad())
            using (var trace = new RoutingTrace())
            {
                var saved = ctx.get_saved_variables()[0];
                var x = saved.detach().requires_grad_(true);
                var y = segment.Run(x, context with { Routing = trace });
                var objective = (y * gradOutput).sum();
                if (segment.BalanceTerm?.Invoke(trace) is { } balance)
                    objective = objective + balance;
                objective.backward();
                // The native side takes the returned handle after this method returns: keep it out of every scope.
                inputGrad = x.grad!.detach().DetachFromDisposeScope();
            }
            return [inputGrad, null!, null!];
        }
    }
}
