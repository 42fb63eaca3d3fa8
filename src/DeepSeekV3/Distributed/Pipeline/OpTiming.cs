namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>When a simulated op ran on its rank.</summary>
public sealed record OpTiming(PipelineOp Op, double Start, double End);
