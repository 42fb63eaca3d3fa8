namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// Which way a micro-batch travels. DualPipe: <see cref="A"/> enters at rank 0 and leaves at the last rank,
/// <see cref="B"/> enters at the last rank and leaves at rank 0. DualPipeV: <see cref="A"/> is the first leg of the
/// V (ranks 0 → P−1), <see cref="B"/> the second (P−1 → 0). 1F1B has only <see cref="A"/>.
/// </summary>
public enum PipelineDirection
{
    A,
    B,
}
