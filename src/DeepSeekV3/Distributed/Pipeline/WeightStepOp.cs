namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>Computes the weight gradients of the oldest backward that deferred them (first in, first out).</summary>
public sealed record WeightStepOp : PipelineOp
{
    public override string ToString() => "W";
}
