using System.CommandLine;
using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Cli.Commands;

/// <summary>
/// `dsv3 schedule --kind 1f1b|dualpipe|dualpipev --ranks P --micro-batches M [--format ops|table] [--costs F,B,W,FB[,T]]
/// [--png FILE]`: the pipeline schedule each rank runs (<see cref="PipelineSchedule"/>), or its simulated bubble and
/// activations beside the report's formulas, and optionally a timeline figure.
/// </summary>
internal static class ScheduleCommand
{
    public static Command Create()
    {
        var kind = new Option<string>("--kind") { Description = "1f1b, dualpipe or dualpipev", Required = true };
        kind.AcceptOnlyFromAmong("1f1b", "dualpipe", "dualpipev");
        var ranks = new Option<int>("--ranks") { Description = "Pipeline ranks P", Required = true };
        var microBatches = new Option<int>("--micro-batches") { Description = "Micro-batches M per step (the reference's num_chunks; DualPipe: M/2 per direction)", Required = true };
        var format = new Option<string>("--format") { Description = "ops: each rank's op list; table: simulated bubble and activations beside the report's formulas", DefaultValueFactory = _ => "ops" };
        format.AcceptOnlyFromAmong("ops", "table");
        var costs = new Option<string?>("--costs") { Description = "Chunk costs F,B,W,FB[,T] for the simulation (T: per transfer); default 1,2,1,3" };
        var png = new Option<string?>("--png") { Description = "Write the simulated timeline to this PNG" };
        var command = new Command("schedule", "Print a pipeline schedule (1F1B, DualPipe, DualPipeV), simulate it, draw it")
            { kind, ranks, microBatches, format, costs, png };
        command.SetAction(result =>
        {
            var schedule = PipelineSchedule.Build(PipelineSchedule.ParseKind(result.GetValue(kind)!), result.GetValue(ranks), result.GetValue(microBatches));
            var output = result.InvocationConfiguration.Output;
            string? costText = result.GetValue(costs);
            var simulation = ScheduleSimulation.Run(schedule, costText is null ? PipelineCosts.Default : PipelineCosts.Parse(costText));
            output.Write(result.GetValue(format) == "table" ? ScheduleFormulas.FormatTable(simulation) : schedule.FormatOps());
            if (result.GetValue(png) is { } path)
            {
                ScheduleTimeline.WritePng(simulation, path);
                output.WriteLine($"wrote {path}");
            }
        });
        return command;
    }
}
