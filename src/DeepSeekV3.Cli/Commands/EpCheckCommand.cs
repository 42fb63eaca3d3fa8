using System.CommandLine;
using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed;

namespace DeepSeekV3.Cli.Commands;

/// <summary>
/// `dsv3 ep-check [--ranks-per-node K] [--overlap on|off] [--bench-steps S]`: expert parallelism over all ranks of
/// the job against one process (<see cref="ExpertParallelCheck"/>), on the tiny preset. Rank 0 prints the worst
/// relative differences over all ranks; exit code 1 above the tolerance. An error on any rank ends the job.
/// </summary>
internal static class EpCheckCommand
{
    /// <summary>fp32 reduction order only.</summary>
    public const double Tolerance = 1e-5;

    public static Command Create()
    {
        var ranksPerNode = new Option<int?>("--ranks-per-node") { Description = "Ranks per node (node-limited routing); default: all ranks on one node" };
        var overlap = new Option<string>("--overlap") { Description = "on: two micro-batches with non-blocking exchanges; off: blocking", DefaultValueFactory = _ => "on" };
        overlap.AcceptOnlyFromAmong("on", "off");
        var benchSteps = new Option<int>("--bench-steps") { Description = "Then time this many steps with overlap off and on (0: no timing)" };
        var command = new Command("ep-check", "Check expert parallelism against one process: losses, logits, gradients") { ranksPerNode, overlap, benchSteps };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            bool verbose = result.GetValue<bool>("--verbose") || Environment.GetEnvironmentVariable(CliApp.VerboseVariable) is "1" or "true";
            using var world = Communicators.FromEnvironment();
            return FailFast.Run(world, () =>
            {
                using var context = new ParallelContext(world, expertParallel: world.Size, ranksPerNode: result.GetValue(ranksPerNode));
                var check = new ExpertParallelCheck(context, ModelPresets.Tiny).Run(result.GetValue(overlap) == "on", result.GetValue(benchSteps));
                if (world.Rank == 0) Print(output, check, result.GetValue(overlap)!);
                return check.Worst <= Tolerance ? 0 : 1;
            }, result.InvocationConfiguration.Error, verbose);
        });
        return command;
    }

    private static void Print(TextWriter output, ExpertParallelCheckResult check, string overlap)
    {
        output.WriteLine($"ep-check: {check.Layout}, overlap {overlap}");
        output.WriteLine($"  max relative difference: loss {check.Loss:E2}, logits {check.Logits:E2}, " +
                         $"dense gradients {check.DenseGradients:E2}, expert gradients {check.ExpertGradients:E2}");
        if (check.BlockedSecondsBlocking is { } off && check.BlockedSecondsOverlapped is { } on)
            output.WriteLine($"  per step: blocked on communication {off * 1000:F2} ms without overlap, {on * 1000:F2} ms with; " +
                             $"hidden {check.HiddenShare:P0}; step {check.StepSecondsBlocking * 1000:F1} → {check.StepSecondsOverlapped * 1000:F1} ms; " +
                             $"{check.BytesPerStep / 1024:F0} KiB sent");
        output.WriteLine(check.Worst <= Tolerance ? $"ep-check: passed (≤ {Tolerance:E0})" : $"ep-check: FAILED (worst {check.Worst:E2} > {Tolerance:E0})");
    }
}
