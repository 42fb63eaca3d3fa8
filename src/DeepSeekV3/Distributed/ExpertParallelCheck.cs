using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Distributed;

/// <summary>
/// Expert parallelism against one process, on every rank of a job (<c>dsv3 ep-check</c>): each rank builds the same
/// seeded model twice, shards one (<see cref="ExpertParallel.Shard"/>), and runs forward and backward of a loss
/// (next-token cross-entropy plus MTP depth 1) on its own batch. The reference is the unsharded model in this
/// process: the same loss and logits; the same dense and router gradients (data parallel: this rank's batch only);
/// and for each local expert, the gradient of the sum of ALL ranks' losses, since every rank's tokens reach it.
/// Every rank can compute all batches because the model is tiny.
/// </summary>
public sealed class ExpertParallelCheck(ParallelContext context, ModelConfig config, int batch = 2, int length = 16, long seed = 1)
{
    public ExpertParallelCheckResult Run(bool overlap, int benchSteps = 0)
    {
        using var reference = Build();
        using var sharded = Build();
        var executor = ExpertParallel.Shard(sharded, context, overlap);
        int ranks = context.World.Size, rank = context.World.Rank;

        double[] diffs = new double[4];
        using (var scope = NewDisposeScope())
        {
            var own = Batch(rank);
            var (shardedLoss, shardedLogits) = Loss(sharded, own);
            shardedLoss.backward();
            var (referenceLoss, referenceLogits) = Loss(reference, own);
            referenceLoss.backward();
            diffs[0] = Relative(shardedLoss, referenceLoss);
            diffs[1] = Relative(shardedLogits, referenceLogits);
            var shardedGrads = Gradients(sharded);
            var referenceGrads = Gradients(reference);
            diffs[2] = shardedGrads.Where(g => !ExpertParallel.IsRoutedExpertParameter(g.Key))
                .Max(g => Relative(g.Value, referenceGrads[g.Key]));

            reference.zero_grad();
            var total = Enumerable.Range(0, ranks).Select(r => Loss(reference, Batch(r)).Loss).Aggregate((a, b) => a + b);
            total.backward();
            referenceGrads = Gradients(reference);
            diffs[3] = shardedGrads.Where(g => ExpertParallel.IsRoutedExpertParameter(g.Key))
                .Select(g => Relative(g.Value, referenceGrads[g.Key])).DefaultIfEmpty(0).Max();
        }
        context.World.AllReduce<double>(diffs, ReduceOp.Max);
        var result = new ExpertParallelCheckResult(diffs[0], diffs[1], diffs[2], diffs[3], ranks, context.Layout.ToString());
        return benchSteps > 0 ? Bench(sharded, result, benchSteps) : result;
    }

    /// <summary>Times forward + backward steps with blocking exchanges and with overlapped ones, alternating.</summary>
    private ExpertParallelCheckResult Bench(DeepSeekV3ForCausalLM sharded, ExpertParallelCheckResult result, int steps)
    {
        var modes = new[] { false, true }.Select(o => new ExpertParallelExecutor(context.ExpertGroup, config.NRoutedExperts, o)).ToArray();
        var seconds = new double[4];   // blocked off, blocked on, step off, step on
        double bytes = 0;
        for (int step = 0; step < steps + 1; step++)        // step 0 warms up
            for (int m = 0; m < 2; m++)
            {
                foreach (var moe in ExpertParallel.MoeLayers(sharded)) moe.UseExecutor(modes[m]);
                modes[m].Timer.Reset();
                context.World.Barrier();
                var clock = System.Diagnostics.Stopwatch.StartNew();
                using (var scope = NewDisposeScope())
                {
                    sharded.zero_grad();
                    Loss(sharded, Batch(context.World.Rank)).Loss.backward();
                }
                if (step == 0) continue;
                seconds[2 + m] += clock.Elapsed.TotalSeconds / steps;
                seconds[m] += modes[m].Timer.BlockedSeconds / steps;
                if (m == 1) bytes += (double)modes[m].Timer.BytesSent / steps;
            }
        context.World.AllReduce<double>(seconds);
        int ranks = context.World.Size;
        return result with
        {
            BlockedSecondsBlocking = seconds[0] / ranks,
            BlockedSecondsOverlapped = seconds[1] / ranks,
            StepSecondsBlocking = seconds[2] / ranks,
            StepSecondsOverlapped = seconds[3] / ranks,
            BytesPerStep = bytes,
        };
    }

    private DeepSeekV3ForCausalLM Build()
    {
        var model = new DeepSeekV3ForCausalLM(config);
        // A larger std than the report's 0.006 makes routing decisions non-trivial in a tiny model.
        WeightInitializer.Initialize(model, seed, std: 0.02);
        return model;
    }

    /// <summary>Rank r's windows [batch, length + 1]: different per rank, the same on every process.</summary>
    private Tensor Batch(int rank)
    {
        using var generator = new Generator((ulong)(seed * 7919 + rank + 1));
        return randint(0, config.VocabSize, [batch, length + 1], dtype: ScalarType.Int64, generator: generator);
    }

    /// <summary>Mean next-token cross-entropy, plus 0.3 × MTP depth 1's when the model has MTP.</summary>
    private (Tensor Loss, Tensor Logits) Loss(DeepSeekV3ForCausalLM model, Tensor windows)
    {
        var input = windows.narrow(1, 0, length);
        var output = model.Forward(input);
        var loss = CrossEntropy(output.Logits, windows.narrow(1, 1, length));
        if (config.NumNextnPredictLayers > 0)
        {
            var mtp = model.ForwardMtp(1, output.Hidden.narrow(1, 0, length - 1), windows.narrow(1, 1, length - 1));
            loss = loss + 0.3 * CrossEntropy(mtp.Logits, windows.narrow(1, 2, length - 1));
        }
        return (loss, output.Logits);
    }

    private static Tensor CrossEntropy(Tensor logits, Tensor targets) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1));

    private static Dictionary<string, Tensor> Gradients(DeepSeekV3ForCausalLM model) =>
        model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.clone());

    private static double Relative(Tensor actual, Tensor expected)
    {
        double scale = expected.abs().max().item<float>();
        double diff = (actual - expected).abs().max().item<float>();
        return scale == 0 ? diff : diff / scale;
    }
}
