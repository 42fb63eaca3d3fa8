using System.CommandLine;
using DeepSeekV3.Inference.Eplb;
using DeepSeekV3.IO;

namespace DeepSeekV3.Cli.Commands;

/// <summary>
/// <c>dsv3 eplb --weights FILE.json --replicas R --groups G --nodes N --gpus M [--output FILE]</c>: the
/// expert-parallelism load balancer (<see cref="ExpertLoadBalancer"/>) on per-layer expert loads. Prints (or writes
/// atomically) <c>{"phy2log", "log2phy", "logcnt"}</c>; stderr gets the policy and each layer's balancedness.
/// </summary>
internal static class EplbCommand
{
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "JSON file: [layers][experts] expert loads (e.g. token counts)", Required = true };
        var replicas = new Option<int>("--replicas") { Description = "Physical expert slots per layer over all GPUs (experts + redundant)", Required = true };
        var groups = new Option<int>("--groups") { Description = "Expert groups (n_group)", Required = true };
        var nodes = new Option<int>("--nodes") { Description = "Server nodes", Required = true };
        var gpus = new Option<int>("--gpus") { Description = "GPUs (expert-parallel ranks) over all nodes", Required = true };
        var output = new Option<string?>("--output", "--out", "-o") { Description = "Write the placement JSON here instead of stdout" };
        var command = new Command("eplb", "Balance expert load: replicate busy experts and place replicas on GPUs (EPLB)")
        {
            weights, replicas, groups, nodes, gpus, output,
        };
        command.SetAction(result =>
        {
            double[][] loads = ExpertLoads.Read(result.GetValue(weights)!);
            int g = result.GetValue(groups), n = result.GetValue(nodes), m = result.GetValue(gpus);
            var placement = ExpertLoadBalancer.Rebalance(loads, result.GetValue(replicas), g, n, m);
            if (result.GetValue(output) is { } path) AtomicFile.WriteAllText(path, placement.ToJson());
            else result.InvocationConfiguration.Output.Write(placement.ToJson());
            Report(result.InvocationConfiguration.Error, loads, placement, ExpertLoadBalancer.PolicyFor(g, n));
            return 0;
        });
        return command;
    }

    private static void Report(TextWriter error, double[][] loads, ExpertPlacement placement, EplbPolicy policy)
    {
        int experts = placement.LogicalExperts, ranks = placement.Ranks;
        // Without EPLB each expert sits once on its rank; that baseline exists only when the experts divide evenly.
        double[]? before = experts % ranks == 0 ? ExpertPlacement.Identity(loads.Length, experts, ranks).Balancedness(loads) : null;
        double[] after = placement.Balancedness(loads);
        error.WriteLine($"eplb: {policy.ToString().ToLowerInvariant()} policy, {experts} experts in {placement.PhysicalExperts} slots " +
                        $"on {ranks} GPUs ({placement.SlotsPerRank} each)");
        for (int l = 0; l < after.Length; l++)
            error.WriteLine($"layer {l}: balancedness " +
                            (before is null ? $"(no baseline: {experts} experts do not divide over {ranks} GPUs)" : $"{before[l]:F3}") +
                            $" -> {after[l]:F3}");
    }
}
