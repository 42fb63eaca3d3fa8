namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// Non-interleaved 1F1B (Narayanan et al. 2021, PipeDream-Flush): rank r runs min(P−r−1, M) warm-up forwards, then
/// alternates one forward and one backward until the forwards run out, then drains the backwards. Every backward is
/// whole (no deferred weight gradients). Exchanges follow the same commit rule as DualPipe: the batch before a
/// forward sends the last input gradient and receives the new activation, the batch before a backward sends the last
/// activation and receives the output gradient (Megatron's send_forward_recv_backward / send_backward_recv_forward).
/// </summary>
internal sealed class OneFOneBProgramBuilder(StageLayout layout, int rank, int microBatches) : ProgramBuilder(layout, rank)
{
    public RankProgram Build()
    {
        const PipelineDirection a = PipelineDirection.A;
        int warmUp = Math.Min(Layout.Ranks - Rank - 1, microBatches);
        for (int i = 0; i < warmUp; i++)
            Forward(a);
        for (int i = warmUp; i < microBatches; i++)
        {
            Forward(a);
            Backward(a);
        }
        for (int i = 0; i < warmUp; i++)
            Backward(a);
        return Finish();
    }
}
