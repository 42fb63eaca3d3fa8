using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed.Planning;
using DeepSeekV3.IO;

namespace DeepSeekV3.Cli.Commands;

/// <summary>
/// `dsv3 plan --preset v3 --gpus 2048 --pp 16 --ep 64 --tokens 14.8T [--mfu X] [--micro-batches M] [--seq 4096]
/// [--global-batch 15360] [--json FILE]`: FLOPs, memory per GPU, all-to-all traffic, bubble and GPU-hours of a
/// pre-training run laid out as the report's (<see cref="TrainingPlan"/>).
/// </summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = $"One of {string.Join(", ", ModelPresets.Names)}" };
        var config = new Option<string?>("--config") { Description = "A config.json instead of a preset" };
        var gpus = new Option<int>("--gpus") { Description = "GPUs in the job", Required = true };
        var pp = new Option<int>("--pp") { Description = "Pipeline stages (DualPipe ranks)", Required = true };
        var ep = new Option<int>("--ep") { Description = "Expert-parallel GPUs per group", DefaultValueFactory = _ => 1 };
        var tokens = new Option<string>("--tokens") { Description = "Training tokens, e.g. 14.8T or 500B", Required = true };
        var mfu = new Option<double?>("--mfu") { Description = "Model FLOPs utilization (0–1, of the BF16 peak) for the GPU-hours estimate" };
        var microBatches = new Option<int?>("--micro-batches") { Description = "Micro-batches per pipeline per step (num_chunks); default one sequence each" };
        var seq = new Option<int>("--seq") { Description = "Sequence length", DefaultValueFactory = _ => 4096 };
        var globalBatch = new Option<int>("--global-batch") { Description = "Sequences per step", DefaultValueFactory = _ => 15360 };
        var json = new Option<string?>("--json") { Description = "Also write the plan as JSON to this file" };
        var command = new Command("plan", "FLOPs, memory per GPU, all-to-all traffic, DualPipe bubble and GPU-hours of a pre-training layout")
            { preset, config, gpus, pp, ep, tokens, mfu, microBatches, seq, globalBatch, json };
        command.SetAction(result =>
        {
            var model = InitCommand.ResolveConfig(result.GetValue(preset), result.GetValue(config));
            if (result.GetValue(mfu) is double m && (m <= 0 || m > 1))
                throw new InvalidArgumentException($"--mfu {m}: expected a fraction in (0, 1]");
            var plan = TrainingPlan.Compute(new PlanInputs(model, result.GetValue(gpus), result.GetValue(pp), result.GetValue(ep),
                TokenCount.Parse(result.GetValue(tokens)!), result.GetValue(seq), result.GetValue(globalBatch),
                result.GetValue(microBatches), result.GetValue(mfu)));
            string name = result.GetValue(preset) ?? result.GetValue(config)!;
            var output = result.InvocationConfiguration.Output;
            output.Write(TrainingPlanText.Format(plan, name));
            if (result.GetValue(json) is { } path)
            {
                var document = JsonSerializer.SerializeToNode(plan) as JsonObject ?? [];
                document.Insert(0, "model", name);
                AtomicFile.WriteAllText(path, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                output.WriteLine($"wrote {path}");
            }
        });
        return command;
    }
}
