namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// Lays a schedule out in time: each rank runs its ops in order, each op starting once the rank is free and its
/// inputs exist — a forward needs the same micro-batch's forward on the previous stage of its direction, a backward
/// the next stage's backward (at a direction's last stage, its own forward; on DualPipeV's last rank the first leg's
/// backward needs the second leg's, computed locally), plus <see cref="PipelineCosts.Transfer"/> for each message
/// between ranks. The waits of the exchanges themselves are not modelled: data flow alone sets the times, as in the
/// report's bubble analysis.
/// <para>
/// Bubble: a rank's idle time within the makespan (first op of any rank to last op of any rank), which is what the
/// report's Table 2 formulas count; with <see cref="PipelineCosts.Default"/> every rank's equals the formula exactly.
/// </para>
/// </summary>
public sealed record ScheduleSimulation(PipelineSchedule Schedule, PipelineCosts Costs, IReadOnlyList<RankTimeline> Ranks, double TotalTime)
{
    /// <summary>The largest idle time of any rank.</summary>
    public double Bubble => Ranks.Max(r => r.Idle);

    /// <summary>The largest peak activation count of any rank.</summary>
    public int PeakActivations => Ranks.Max(r => r.PeakActivations);

    public static ScheduleSimulation Run(PipelineSchedule schedule, PipelineCosts costs)
    {
        var layout = schedule.Layout;
        int ranks = schedule.Ranks;
        // End time of each computed (rank, forward?, direction, micro-batch).
        var done = new Dictionary<(int Rank, bool Forward, PipelineDirection Direction, int MicroBatch), double>();
        var timings = Enumerable.Range(0, ranks).Select(_ => new List<OpTiming>()).ToArray();
        var next = new int[ranks];
        var free = new double[ranks];

        for (bool progress = true; progress;)
        {
            progress = false;
            for (int r = 0; r < ranks; r++)
            {
                var steps = schedule.Programs[r].Steps;
                while (next[r] < steps.Count && ReadyAt(steps[next[r]].Op, r) is double ready)
                {
                    var op = steps[next[r]++].Op;
                    double start = Math.Max(free[r], ready), end = start + costs.Of(op);
                    foreach (var (forward, direction, microBatch) in Parts(op))
                        done[(r, forward, direction, microBatch)] = end;
                    timings[r].Add(new OpTiming(op, start, end));
                    free[r] = end;
                    progress = true;
                }
            }
        }
        for (int r = 0; r < ranks; r++)
            if (next[r] < schedule.Programs[r].Steps.Count)
                throw new InvalidOperationException($"rank {r} never gets the inputs of {schedule.Programs[r].Steps[next[r]].Op}");

        double total = timings.Max(t => t.Count == 0 ? 0 : t[^1].End);
        var timelines = Enumerable.Range(0, ranks).Select(r =>
        {
            double busy = timings[r].Sum(t => t.End - t.Start);
            return new RankTimeline(r, timings[r], busy, total - busy, CountPeakActivations(schedule.Programs[r]));
        }).ToList();
        return new ScheduleSimulation(schedule, costs, timelines, total);

        // The time the inputs of every part of op are on rank r, or null while some are not computed yet.
        double? ReadyAt(PipelineOp op, int r)
        {
            double ready = 0;
            foreach (var (forward, d, m) in Parts(op))
            {
                var (source, local) = Producer(r, forward, d, m);
                if (source is null) continue;
                if (!done.TryGetValue(source.Value, out double end)) return null;
                ready = Math.Max(ready, end + (local ? 0 : costs.Transfer));
            }
            return ready;
        }

        ((int, bool, PipelineDirection, int)? Source, bool Local) Producer(int r, bool forward, PipelineDirection d, int m)
        {
            bool tip = layout.Kind == ScheduleKind.DualPipeV && r == ranks - 1;
            if (forward)
                return layout.EntersAt(r, d)
                    ? (tip && d == PipelineDirection.B ? (r, true, PipelineDirection.A, m) : null, true)
                    : ((layout.PreviousRank(r, d), true, d, m), false);
            if (!layout.LeavesAt(r, d)) return ((layout.NextRank(r, d), false, d, m), false);
            return (tip && d == PipelineDirection.A ? (r, false, PipelineDirection.B, m) : (r, true, d, m), true);
        }
    }

    /// <summary>The forward and backward parts of an op: (is forward, direction, micro-batch).</summary>
    private static IEnumerable<(bool Forward, PipelineDirection Direction, int MicroBatch)> Parts(PipelineOp op)
    {
        switch (op)
        {
            case ForwardOp f: yield return (true, f.Direction, f.MicroBatch); break;
            case BackwardOp b: yield return (false, b.Direction, b.MicroBatch); break;
            case OverlappedOp o:
                yield return (true, o.Forward.Direction, o.Forward.MicroBatch);
                yield return (false, o.Backward.Direction, o.Backward.MicroBatch);
                break;
        }
    }

    // A forward holds its activations from its start; a backward frees them at its end, so an overlapped pair holds
    // its forward's and its backward's micro-batches at once.
    private static int CountPeakActivations(RankProgram program)
    {
        int live = 0, peak = 0;
        foreach (var op in program.Ops)
            foreach (var (forward, _, _) in Parts(op))
            {
                live += forward ? 1 : -1;
                peak = Math.Max(peak, live);
            }
        return peak;
    }
}
