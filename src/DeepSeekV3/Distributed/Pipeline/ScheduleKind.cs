namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>The pipeline schedules <see cref="PipelineSchedule"/> generates.</summary>
public enum ScheduleKind
{
    /// <summary>Non-interleaved one-forward-one-backward (PipeDream-Flush, Megatron's default).</summary>
    OneFOneB,

    /// <summary>DeepSeek-V3's bidirectional schedule (report §3.2.1, Fig. 5; deepseek-ai/DualPipe dualpipe.py).</summary>
    DualPipe,

    /// <summary>DualPipe "cut in half": P ranks, 2P stages along a V (deepseek-ai/DualPipe dualpipev.py).</summary>
    DualPipeV,
}
