using System.CommandLine;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Metrics;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 plot`: PNG plots of a (running or finished) training run's metrics.jsonl, on demand.</summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--out", "-o") { Description = "The training run directory (holds metrics.jsonl)", Required = true };
        var command = new Command("plot", "Write loss, LR, MaxVio and expert-load PNGs for a training run") { run };
        command.SetAction(result =>
        {
            string dir = result.GetValue(run)!;
            string metrics = Path.Combine(dir, MetricsLog.FileName);
            if (!File.Exists(metrics))
                throw new InvalidArgumentException($"--out \"{dir}\": no {MetricsLog.FileName} there");
            var written = TrainingPlots.Write(MetricsLog.Read(metrics), Path.Combine(dir, TrainingRun.PlotsFolder));
            foreach (string path in written)
                result.InvocationConfiguration.Output.WriteLine(path);
        });
        return command;
    }
}
