// Simulated pipeline bubbles of 1F1B, DualPipe and DualPipeV beside the report's Table 2 formulas, at the same number
// of pipeline stages PP (DualPipeV runs them on PP/2 ranks), for M = 2·PP and M = 64 micro-batches (num_chunks), with
// the default chunk costs (F=1 B=2 W=1 F&B=3) and with an overlapped pair a sixth cheaper than its parts (F&B=2.5).
// Also draws the DualPipe 8×20 and DualPipeV 4×10 timelines. Pure arithmetic: runs in about a second.
// Usage: dotnet run -c Release --project bench/ScheduleBench
using DeepSeekV3.Bench;
using DeepSeekV3.Distributed.Pipeline;

var recorder = new BenchResults();
var rows = new List<Dictionary<string, object>>();
var costSets = new[] { PipelineCosts.Default, PipelineCosts.Default with { ForwardBackward = 2.5 } };
Console.WriteLine($"{"costs",-24} {"PP",3} {"M",4} {"schedule",-10} {"ranks",5} {"bubble",7} {"formula",8} {"of step",8} {"peak act.",9} {"formula",8}");
foreach (var costs in costSets)
    foreach (int pp in new[] { 4, 8, 16 })
        foreach (int microBatches in new[] { 2 * pp, 64 })
            foreach (var kind in new[] { ScheduleKind.OneFOneB, ScheduleKind.DualPipe, ScheduleKind.DualPipeV })
            {
                int ranks = kind == ScheduleKind.DualPipeV ? pp / 2 : pp;
                var simulation = ScheduleSimulation.Run(PipelineSchedule.Build(kind, ranks, microBatches), costs);
                var formula = ScheduleFormulas.For(kind, pp, costs);
                double share = simulation.Bubble / simulation.TotalTime;
                Console.WriteLine(FormattableString.Invariant(
                    $"{costs,-24} {pp,3} {microBatches,4} {PipelineSchedule.KindName(kind),-10} {ranks,5} {simulation.Bubble,7:G4} {formula.Value,8:G4} {share,8:P1} {simulation.PeakActivations,9} {formula.ActivationValue,8}"));
                rows.Add(new()
                {
                    ["costs"] = costs.ToString(),
                    ["pp_stages"] = pp,
                    ["micro_batches"] = microBatches,
                    ["schedule"] = PipelineSchedule.KindName(kind),
                    ["ranks"] = ranks,
                    ["simulated_bubble"] = simulation.Bubble,
                    ["formula"] = formula.Bubble,
                    ["formula_bubble"] = formula.Value,
                    ["total_time"] = simulation.TotalTime,
                    ["bubble_share"] = Math.Round(share, 4),
                    ["peak_activations"] = simulation.PeakActivations,
                    ["formula_activations"] = formula.ActivationValue,
                });
            }

foreach (var (kind, ranks, microBatches, file) in new[]
         {
             (ScheduleKind.DualPipe, 8, 20, "schedule-dualpipe-8x20.png"),
             (ScheduleKind.DualPipeV, 4, 10, "schedule-dualpipev-4x10.png"),
         })
{
    string path = BenchPaths.Result(file);
    ScheduleTimeline.WritePng(ScheduleSimulation.Run(PipelineSchedule.Build(kind, ranks, microBatches), PipelineCosts.Default), path);
    Console.WriteLine($"wrote {path}");
}
Console.WriteLine($"wrote {recorder.Save("schedule-bench", new { rows })}");
