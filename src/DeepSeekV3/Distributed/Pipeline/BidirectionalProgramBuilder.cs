namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// One rank's DualPipe or DualPipeV program: the eight steps of the reference's <c>step</c> (deepseek-ai/DualPipe
/// dualpipe.py and dualpipev.py; parallel-fp8 notes §2.5), with the same queue-and-commit order of receives and sends.
/// <para>
/// Phase 0 is the direction that enters at the rank's nearer end of the pipeline and phase 1 the other: for DualPipe,
/// a then b on the first half of the ranks and b then a on the second; for DualPipeV always a (first leg) then b.
/// h is the rank's distance from that end (DualPipe: min(r, P−1−r); DualPipeV: r), H the number of ranks on its
/// side (P/2; DualPipeV: P), C the micro-batches per direction (M/2; DualPipeV: M).
/// </para>
/// </summary>
internal sealed class BidirectionalProgramBuilder : ProgramBuilder
{
    private readonly PipelineDirection _phase0, _phase1;
    private readonly int _h, _half, _chunks;
    private readonly bool _middle;

    public BidirectionalProgramBuilder(StageLayout layout, int rank, int microBatches) : base(layout, rank)
    {
        int p = layout.Ranks;
        bool dualPipe = layout.Kind == ScheduleKind.DualPipe;
        bool swapped = dualPipe && rank >= p / 2;
        _phase0 = swapped ? PipelineDirection.B : PipelineDirection.A;
        _phase1 = swapped ? PipelineDirection.A : PipelineDirection.B;
        _h = dualPipe ? Math.Min(rank, p - 1 - rank) : rank;
        _half = dualPipe ? p / 2 : p;
        _chunks = dualPipe ? microBatches / 2 : microBatches;
        // The ranks where the two directions meet: DualPipe's two middle ranks, DualPipeV's last rank (the V's tip).
        _middle = _h == _half - 1;
    }

    public RankProgram Build()
    {
        int h = _h, outer = _half - h - 1;

        // Step 1: forwards of phase 0 only, filling the pipeline from the rank's own end.
        for (int i = 0; i < 2 * outer; i++)
            Forward(_phase0);

        // Step 2: forwards of both phases. Except on the middle ranks, phase 0's output goes out after phase 1's
        // forward, batched with its send, so that each exchange matches the neighbour's.
        ReceiveActivation(_phase0);
        for (int i = 0; i <= h; i++)
        {
            Forward(_phase0, receive: false, send: _middle);
            ReceiveActivation(_phase0);
            Forward(_phase1, send: !_middle || i < h);
            if (!_middle) SendActivation(_phase0);
        }

        // Step 3: zero-bubble backward of phase 1, a deferred weight step, a phase-1 forward.
        for (int i = 0; i < outer; i++)
        {
            Backward(_phase1, deferWeightGrad: true);
            ReceiveActivation(_phase1);
            Compute(new WeightStepOp());
            Forward(_phase1, receive: false);
        }

        // Step 4 (steady state): overlapped pairs, phase-0 forward with phase-1 backward and the other way round.
        // On the middle ranks the first pair runs apart ("to further reduce bubble size"), with its sends reordered.
        int steady = _chunks - 2 * _half + h + 1;
        for (int i = 0; i < steady; i++)
        {
            if (i == 0 && _middle)
            {
                Forward(_phase0, receive: false, send: false);
                SendActivation(_phase1);
                Backward(_phase1, send: false);
                SendActivation(_phase0);
                SendGradient(_phase1);
            }
            else
            {
                ForwardBackward(_phase0, _phase1, receiveForward: i > 0);
            }
            ForwardBackward(_phase1, _phase0);
        }

        // Step 5: a phase-1 backward, then a pair of phase-1 forward with phase-0 backward.
        for (int i = 0; i < outer; i++)
        {
            Backward(_phase1);
            ForwardBackward(_phase1, _phase0);
        }

        // Step 6: backwards of both phases; from the middle iteration on they defer their weight gradients.
        bool defer = false;
        for (int i = 0; i <= h; i++)
        {
            if (i == (h + 1) / 2 && h % 2 == 1) defer = true;
            Backward(_phase1, defer);
            if (i == (h + 1) / 2 && h % 2 == 0) defer = true;
            Backward(_phase0, defer);
        }

        // Step 7: a deferred weight step, then a zero-bubble phase-0 backward.
        for (int i = 0; i < outer; i++)
        {
            Compute(new WeightStepOp());
            Backward(_phase0, deferWeightGrad: true);
        }

        // Step 8: the remaining deferred weight steps; the queue is empty afterwards.
        for (int i = 0; i <= h; i++)
            Compute(new WeightStepOp());
        return Finish();
    }

    /// <summary>dualpipe.py <c>_forward_backward_chunk</c>: receive both inputs, run the pair, send both results.</summary>
    private void ForwardBackward(PipelineDirection forward, PipelineDirection backward, bool receiveForward = true)
    {
        if (receiveForward) ReceiveActivation(forward);
        ReceiveGradient(backward);
        Compute(new OverlappedOp(NextForward(forward), NextBackward(backward, deferWeightGrad: false)));
        SendActivation(forward);
        SendGradient(backward);
    }
}
