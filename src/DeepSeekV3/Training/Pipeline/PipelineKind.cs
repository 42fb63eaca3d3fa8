namespace DeepSeekV3.Training.Pipeline;

/// <summary>How micro-batches flow through the pipeline's ranks.</summary>
public enum PipelineKind
{
    /// <summary>One forward, one backward (PipeDream-Flush): P stages, stage r on rank r, one direction.</summary>
    OneFOneB,

    /// <summary>DualPipe: P stages held twice, stage r on rank r for direction a (entering at rank 0) and on rank
    /// P−1−r for direction b (entering at the last rank); half the micro-batches go each way.</summary>
    DualPipe,

    /// <summary>DualPipeV: 2P stages on a V, rank r holding stage r (the first leg, a) and stage 2P−1−r (the second
    /// leg, b); every micro-batch goes down and back up.</summary>
    DualPipeV,
}
