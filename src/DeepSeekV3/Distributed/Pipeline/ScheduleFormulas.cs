namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// The report's bubble and memory table (Table 2; DualPipe README, parallel-fp8 notes §2.2), as formulas of the
/// number of pipeline stages PP and the chunk costs. DualPipeV's row is DualPipe's with PP = 2 × ranks (README).
/// The README counts DualPipeV's parameters as 2× per device (each device holds two of the PP stages); across the
/// pipeline there is one copy, which is what <see cref="BubbleFormula.ParameterCopies"/> gives.
/// </summary>
public static class ScheduleFormulas
{
    public static IReadOnlyList<BubbleFormula> Table(int stages, PipelineCosts c)
    {
        int pp = stages;
        double dualPipe = (pp / 2.0 - 1) * (c.ForwardBackward + c.Backward - 3 * c.Weight);
        return
        [
            new("1F1B", "(PP−1)(F+B)", (pp - 1) * (c.Forward + c.Backward), 1, "PP", pp),
            new("ZB1P", "(PP−1)(F+B−2W)", (pp - 1) * (c.Forward + c.Backward - 2 * c.Weight), 1, "PP", pp),
            new("DualPipe", "(PP/2−1)(F&B+B−3W)", dualPipe, 2, "PP+1", pp + 1),
            new("DualPipeV", "(PP/2−1)(F&B+B−3W)", dualPipe, 1, "PP+1", pp + 1),
        ];
    }

    /// <summary>The row of the report's table that describes <paramref name="kind"/>.</summary>
    public static BubbleFormula For(ScheduleKind kind, int stages, PipelineCosts costs) =>
        Table(stages, costs).Single(row => row.Method == PipelineSchedule.KindName(kind));

    /// <summary>
    /// The text of <c>dsv3 schedule --format table</c>: the simulation per rank, then the report's formulas for the
    /// same number of stages beside the simulated values.
    /// </summary>
    public static string FormatTable(ScheduleSimulation simulation)
    {
        var s = simulation.Schedule;
        var c = simulation.Costs;
        int stages = s.Layout.Stages;
        var text = new System.Text.StringBuilder();
        string perDirection = s.Kind == ScheduleKind.OneFOneB ? "" : $" ({s.MicroBatchesPerDirection} per direction)";
        text.AppendLine(FormattableString.Invariant(
            $"{PipelineSchedule.KindName(s.Kind)}: {s.Ranks} ranks, {stages} stages, {s.MicroBatches} micro-batches{perDirection}; costs {c}"));
        text.AppendLine(FormattableString.Invariant(
            $"simulated step: total time {simulation.TotalTime:G6}; bubble = a rank's idle time within it"));
        text.AppendLine($"{"rank",5} {"busy",10} {"bubble",10} {"peak activations",17}");
        foreach (var r in simulation.Ranks)
            text.AppendLine(FormattableString.Invariant($"{r.Rank,5} {r.Busy,10:G6} {r.Idle,10:G6} {r.PeakActivations,17}"));
        text.AppendLine();
        text.AppendLine($"report's Table 2 for PP = {stages} stages");
        text.AppendLine($"{"method",-10} {"bubble",-20} {"value",8} {"params",7} {"activations",12}");
        foreach (var row in Table(stages, c))
            text.AppendLine(FormattableString.Invariant(
                $"{row.Method,-10} {row.Bubble,-20} {row.Value,8:G6} {row.ParameterCopies + "×",7} {row.Activations + " = " + row.ActivationValue,12}"));
        text.AppendLine(FormattableString.Invariant(
            $"{"simulated",-10} {"max over ranks",-20} {simulation.Bubble,8:G6} {s.Layout.ParameterCopies + "×",7} {simulation.PeakActivations,12}"));
        return text.ToString();
    }
}
