using DeepSeekV3.IO;
using ScottPlot;

namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// A simulated schedule as a timeline figure in the style of the report's Fig. 5: one row per rank (rank 0 on top),
/// one box per op, as wide as its simulated time and labelled with its micro-batch. Forward orange, backward green,
/// input-only backward (weight gradients deferred) yellow-green, weight step blue; direction a in the full colour,
/// direction b in a pale shade of it; an overlapped pair is one box with a heavy border, forward half then backward half.
/// </summary>
public static class ScheduleTimeline
{
    private static readonly (Color A, Color B) ForwardColors = (Color.FromHex("#F28E2B"), Color.FromHex("#FCD2A8"));
    private static readonly (Color A, Color B) BackwardColors = (Color.FromHex("#3E9B4F"), Color.FromHex("#A9DDB1"));
    private static readonly (Color A, Color B) InputBackwardColors = (Color.FromHex("#9BBE2E"), Color.FromHex("#DCEBA8"));
    private static readonly Color WeightColor = Color.FromHex("#4E79A7");

    /// <summary>Writes the PNG to <paramref name="path"/> atomically (temp file + rename).</summary>
    public static void WritePng(ScheduleSimulation simulation, string path, int width = 1600)
    {
        var plot = new Plot();
        foreach (var rank in simulation.Ranks)
            foreach (var timing in rank.Ops)
                AddOp(plot, rank.Rank, timing);
        var schedule = simulation.Schedule;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, schedule.Ranks).Select(r => (double)r).ToArray(),
            Enumerable.Range(0, schedule.Ranks).Select(r => $"rank {r}").ToArray());
        plot.Axes.SetLimits(0, simulation.TotalTime, schedule.Ranks - 0.5, -0.5);             // rank 0 on top
        plot.HideGrid();
        plot.Title($"{PipelineSchedule.KindName(schedule.Kind)}: {schedule.Ranks} ranks, {schedule.MicroBatches} micro-batches " +
                   $"({simulation.Costs}; bubble {simulation.Bubble:G4} per rank at most)");
        plot.XLabel("time");
        foreach (var (label, color) in new[]
                 {
                     ("forward a", ForwardColors.A), ("forward b", ForwardColors.B), ("backward a", BackwardColors.A),
                     ("backward b", BackwardColors.B), ("backward for input a", InputBackwardColors.A),
                     ("backward for input b", InputBackwardColors.B), ("backward for weights", WeightColor),
                 })
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = label, FillColor = color });
        plot.ShowLegend(Edge.Bottom);
        int height = 160 + 46 * schedule.Ranks;
        AtomicFile.Write(path, stream =>
        {
            byte[] png = plot.GetImageBytes(width, height, ImageFormat.Png);
            stream.Write(png);
        });
    }

    private static void AddOp(Plot plot, int rank, OpTiming timing)
    {
        double top = rank - 0.4, bottom = rank + 0.4;
        switch (timing.Op)
        {
            case OverlappedOp pair:
                double middle = (timing.Start + timing.End) / 2;
                Box(plot, timing.Start, middle, bottom, top, Pick(ForwardColors, pair.Forward.Direction), pair.Forward.MicroBatch);
                Box(plot, middle, timing.End, bottom, top, Pick(BackwardColors, pair.Backward.Direction), pair.Backward.MicroBatch);
                var border = plot.Add.Rectangle(timing.Start, timing.End, bottom, top);
                border.FillColor = Colors.Transparent;
                border.LineColor = Colors.Black;
                border.LineWidth = 2.5f;
                break;
            case ForwardOp f:
                Box(plot, timing.Start, timing.End, bottom, top, Pick(ForwardColors, f.Direction), f.MicroBatch);
                break;
            case BackwardOp b:
                Box(plot, timing.Start, timing.End, bottom, top,
                    Pick(b.DeferWeightGrad ? InputBackwardColors : BackwardColors, b.Direction), b.MicroBatch);
                break;
            default:
                Box(plot, timing.Start, timing.End, bottom, top, WeightColor, null);
                break;
        }
    }

    private static Color Pick((Color A, Color B) colors, PipelineDirection direction) =>
        direction == PipelineDirection.A ? colors.A : colors.B;

    private static void Box(Plot plot, double left, double right, double bottom, double top, Color fill, int? label)
    {
        var box = plot.Add.Rectangle(left, right, bottom, top);
        box.FillColor = fill;
        box.LineColor = Colors.White;
        box.LineWidth = 1;
        if (label is null) return;
        var text = plot.Add.Text(label.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), (left + right) / 2, (top + bottom) / 2);
        text.LabelAlignment = Alignment.MiddleCenter;
        text.LabelFontSize = 11;
        text.LabelFontColor = Colors.Black;
    }
}
