namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>Forward of micro-batch <paramref name="MicroBatch"/> (counted from 0 within its direction) through this
/// rank's stage of <paramref name="Direction"/>.</summary>
public sealed record ForwardOp(PipelineDirection Direction, int MicroBatch) : PipelineOp
{
    public override string ToString() => $"F{Letter(Direction)}{MicroBatch}";
}
