namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// Backward of micro-batch <paramref name="MicroBatch"/> through this rank's stage of <paramref name="Direction"/>.
/// With <paramref name="DeferWeightGrad"/> only the input gradient is computed now (it is what the previous stage
/// waits for); the weight gradients are queued and computed by a later <see cref="WeightStepOp"/> (ZeroBubble's
/// split, report §3.2.1).
/// </summary>
public sealed record BackwardOp(PipelineDirection Direction, int MicroBatch, bool DeferWeightGrad) : PipelineOp
{
    public override string ToString() => $"B{Letter(Direction)}{MicroBatch}{(DeferWeightGrad ? "z" : "")}";
}
