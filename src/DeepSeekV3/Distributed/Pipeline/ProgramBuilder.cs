namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// Records one rank's program the way the reference executes it (dualpipe.py): receives and sends are queued as
/// they are requested, and every compute op first commits the queue as one exchange. Micro-batch numbers come from
/// per-direction counters, as the reference's chunk ids do, so a send always carries the oldest unsent result.
/// </summary>
internal class ProgramBuilder(StageLayout layout, int rank)
{
    private readonly List<Transfer> _queued = [];
    private readonly List<ScheduleStep> _steps = [];
    private readonly int[] _forwards = new int[2], _backwards = new int[2];
    private readonly int[] _activationsIn = new int[2], _activationsOut = new int[2];
    private readonly int[] _gradientsIn = new int[2], _gradientsOut = new int[2];

    protected StageLayout Layout => layout;
    protected int Rank => rank;

    public RankProgram Finish() => new(rank, _steps.ToList(), _queued.ToList());

    protected void ReceiveActivation(PipelineDirection d)
    {
        if (layout.EntersAt(rank, d)) return;
        _queued.Add(new(TransferKind.ReceiveActivation, d, _activationsIn[(int)d]++, layout.PreviousRank(rank, d)));
    }

    protected void SendActivation(PipelineDirection d)
    {
        if (layout.LeavesAt(rank, d)) return;
        _queued.Add(new(TransferKind.SendActivation, d, _activationsOut[(int)d]++, layout.NextRank(rank, d)));
    }

    protected void ReceiveGradient(PipelineDirection d)
    {
        if (layout.LeavesAt(rank, d)) return;                                       // the loss is computed here
        _queued.Add(new(TransferKind.ReceiveGradient, d, _gradientsIn[(int)d]++, layout.NextRank(rank, d)));
    }

    protected void SendGradient(PipelineDirection d)
    {
        if (layout.EntersAt(rank, d)) return;
        _queued.Add(new(TransferKind.SendGradient, d, _gradientsOut[(int)d]++, layout.PreviousRank(rank, d)));
    }

    protected ForwardOp NextForward(PipelineDirection d) => new(d, _forwards[(int)d]++);

    protected BackwardOp NextBackward(PipelineDirection d, bool deferWeightGrad) => new(d, _backwards[(int)d]++, deferWeightGrad);

    /// <summary>Commits the queued transfers as one exchange, then computes <paramref name="op"/>.</summary>
    protected void Compute(PipelineOp op)
    {
        _steps.Add(new ScheduleStep(_queued.ToList(), op));
        _queued.Clear();
    }

    /// <summary>dualpipe.py <c>_forward_chunk</c>.</summary>
    protected void Forward(PipelineDirection d, bool receive = true, bool send = true)
    {
        if (receive) ReceiveActivation(d);
        Compute(NextForward(d));
        if (send) SendActivation(d);
    }

    /// <summary>dualpipe.py <c>_backward_chunk</c>.</summary>
    protected void Backward(PipelineDirection d, bool deferWeightGrad = false, bool receive = true, bool send = true)
    {
        if (receive) ReceiveGradient(d);
        Compute(NextBackward(d, deferWeightGrad));
        if (send) SendGradient(d);
    }
}
