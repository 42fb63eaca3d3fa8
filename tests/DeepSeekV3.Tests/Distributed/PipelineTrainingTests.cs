using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Training.Metrics;
using static TorchSharp.torch;

using static DeepSeekV3.Tests.Distributed.RunComparison;

namespace DeepSeekV3.Tests.Distributed;

/// <summary>
/// `dsv3 train --pp P --schedule …` under real mpiexec: every schedule must reproduce the one-process run — per-step
/// losses, gradient norms, validation loss, and the trained weights (which every gradient of every step shaped) — up to
/// the order of fp32 sums; a pipeline's sharded checkpoint must resume in one process and on another layout.
/// The tiny preset with 8 main blocks, so that DualPipeV on 4 ranks has its 8 stages.
/// </summary>
public sealed class PipelineTrainingTests(PipelineTrainingTests.Runs runs) : IClassFixture<PipelineTrainingTests.Runs>
{
    [Theory]
    [InlineData("1f1b-2", 2, 2)]
    [InlineData("dualpipe-2", 2, 2)]
    [InlineData("dualpipev-2", 2, 2)]
    [InlineData("dualpipe-4", 4, 4)]
    [InlineData("dualpipev-4", 4, 4)]
    [InlineData("1f1b-2x2", 4, 2)]
    [InlineData("dualpipev-2-ep2", 4, 2)]
    public void Pipeline_training_gives_the_one_process_losses_gradient_norms_and_weights(string run, int ranks, int pp)
    {
        var single = runs.Metrics("single");
        var pipeline = runs.Metrics(run);
        Assert.Equal(4, single.Count);
        Assert.Equal(single.Select(m => m.Step), pipeline.Select(m => m.Step));
        for (int i = 0; i < single.Count; i++)
        {
            AssertClose(single[i].Loss, pipeline[i].Loss, $"{run} step {i + 1} loss");
            AssertClose(single[i].MtpLoss, pipeline[i].MtpLoss, $"{run} step {i + 1} mtp loss");
            AssertClose(single[i].BalanceLoss, pipeline[i].BalanceLoss, $"{run} step {i + 1} balance loss");
            AssertClose(single[i].TotalLoss, pipeline[i].TotalLoss, $"{run} step {i + 1} total loss");
            AssertClose(single[i].GradNorm, pipeline[i].GradNorm, $"{run} step {i + 1} grad norm");
        }
        AssertClose(single[^1].ValidationLoss!.Value, pipeline[^1].ValidationLoss!.Value, $"{run} validation loss");
        Assert.Equal(ranks, pipeline[0].Ranks);
        Assert.All(pipeline, m => Assert.True(m.CommunicationSeconds > 0 && m.CommunicationSeconds < m.Seconds));

        // The final model, written as one shard per pipeline rank, holds the one-process weights: every tensor. AdamW
        // divides by √v, so where a gradient element is near zero a difference in the order of fp32 sums can move
        // the update visibly: each weight must agree to 1e-5 relative or a tenth of one step (lr 1e-3), whichever is
        // larger. A gradient lost or counted twice moves weights by whole steps.
        const double tenthOfAStep = 1e-4;
        var expected = runs.Tensors("single");
        var actual = runs.Tensors(run);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, values) in expected)
        {
            double scale = values.Max(v => Math.Abs(v));
            double worst = values.Zip(actual[name]).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst <= Math.Max(Tolerance * Math.Max(1, scale), tenthOfAStep),
                $"{run}: {name} differs by {worst:G3} (largest value {scale:G3})");
        }
        Assert.Contains($"{pp} rank(s) per pipeline", runs.Output(run));
    }

    [Fact]
    public void DualPipe_keeps_each_stage_on_two_ranks_and_ZeRO_1_splits_its_state_between_them()
    {
        // DualPipe on 2 ranks: both ranks hold both stages; the optimizer state is cut in halves between them.
        AssertHalvesOfTheOptimizerState(Path.Combine(runs.RunDirectory("dualpipe-2"), "checkpoints", "step-00000004"),
            Path.Combine(runs.RunDirectory("single"), "checkpoints", "step-00000004"));
    }

    [Theory]
    [InlineData("dualpipev-2", 1, null)]
    [InlineData("dualpipe-2", 4, "dualpipev")]
    public void A_pipeline_checkpoint_resumes_in_one_process_and_on_another_pipeline(string saved, int ranks, string? schedule)
    {
        using var dir = new TempDirectory();
        string run = dir.File("run");
        CopyDirectory(runs.RunDirectory(saved), run);
        Directory.Delete(Path.Combine(run, "checkpoints", "step-00000004"), recursive: true);
        string[] args = [.. runs.Arguments(run), "--resume"];
        if (schedule is not null) args = [.. args, "--pp", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--schedule", schedule];
        var result = ranks == 1 ? MpiJob.RunSingle(args) : MpiJob.Run(ranks, args);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("resuming from", result.Stdout);
        var resumed = MetricsLog.Read(Path.Combine(run, MetricsLog.FileName));
        var uninterrupted = runs.Metrics("single");
        Assert.Equal([1L, 2, 3, 4], resumed.Select(m => m.Step));
        AssertClose(uninterrupted[3].Loss, resumed[3].Loss, $"step 4 loss after resuming on {ranks}");
        AssertClose(uninterrupted[3].TotalLoss, resumed[3].TotalLoss, $"step 4 total loss after resuming on {ranks}");
        AssertClose(uninterrupted[3].GradNorm, resumed[3].GradNorm, $"step 4 grad norm after resuming on {ranks}");
    }

    [Fact]
    public void A_schedule_the_layout_breaks_fails_with_its_rule()
    {
        using var dir = new TempDirectory();
        // 8 sequences in micro-batches of 3: 3 micro-batches, while DualPipe on 2 ranks needs an even count ≥ 4.
        var result = MpiJob.Run(2, runs.Arguments(dir.File("run"), "dualpipe", 2, microBatch: 3));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("DualPipe: 3 micro-batches (DualPipe needs an even number of micro-batches", result.Stderr);
        var tooFew = MpiJob.Run(2, [.. runs.Arguments(dir.File("run2"), "1f1b", 3)]);
        Assert.NotEqual(0, tooFew.ExitCode);
        Assert.Contains("--pp 3", tooFew.Stderr);
    }

    /// <summary>The same 4-step job in one process and under each schedule: 1F1B, DualPipe and DualPipeV on 2 ranks,
    /// DualPipe and DualPipeV on 4 (oversubscribed), 1F1B on 2 ranks × 2 data-parallel replicas, and DualPipeV on 2
    /// ranks × 2 with the experts split between the replicas (expert parallel 2).</summary>
    public sealed class Runs : IDisposable
    {
        private readonly TempDirectory _dir = new();
        private readonly Dictionary<string, MpiJobResult> _results = [];

        public Runs()
        {
            File.WriteAllLines(_dir.File("docs.jsonl"), Enumerable.Range(0, 60).Select(i =>
                $"{{\"text\": \"document {i}: pipeline stages, dual directions and a router with {i % 7} biases.\"}}"));
            (ModelPresets.Tiny with { NumHiddenLayers = 8 }).Save(_dir.File("tiny8.json"));
            _results["single"] = MpiJob.RunSingle(Arguments(RunDirectory("single")));
            foreach (var (name, ranks, schedule, pp) in new[]
            {
                ("1f1b-2", 2, "1f1b", 2), ("dualpipe-2", 2, "dualpipe", 2), ("dualpipev-2", 2, "dualpipev", 2),
                ("dualpipe-4", 4, "dualpipe", 4), ("dualpipev-4", 4, "dualpipev", 4), ("1f1b-2x2", 4, "1f1b", 2),
            })
                _results[name] = MpiJob.Run(ranks, Arguments(RunDirectory(name), schedule, pp));
            // Two pipelines of 2, the routed experts of each stage split over the 2 ranks at its position.
            _results["dualpipev-2-ep2"] = MpiJob.Run(4, [.. Arguments(RunDirectory("dualpipev-2-ep2"), "dualpipev", 2), "--ep", "2"]);
            foreach (var (name, result) in _results)
                Assert.True(result.ExitCode == 0, $"{name}: {result}");
        }

        public string RunDirectory(string name) => _dir.File(name);

        /// <summary>8 sequences of 16 tokens per step in micro-batches of 1 (8 micro-batches: DualPipe on 4 ranks
        /// needs 2 × 4), no ramp, 4 steps, validation at the end, checkpoints at steps 3 and 4.</summary>
        public string[] Arguments(string run, string? schedule = null, int pp = 1, int microBatch = 1)
        {
            string[] args =
            [
                "train", "--config", _dir.File("tiny8.json"), "--data", _dir.File("docs.jsonl"), "--out", run,
                "--token-cache", _dir.File("cache"), "--seq-len", "16", "--batch-tokens", "128", "--micro-batch", microBatch.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--no-batch-ramp", "--steps", "4", "--eval-every", "4", "--eval-windows", "6", "--save-every", "3", "--keep", "5",
                "--log-every", "1", "--no-plots",
            ];
            return schedule is null ? args : [.. args, "--pp", pp.ToString(System.Globalization.CultureInfo.InvariantCulture), "--schedule", schedule];
        }

        public IReadOnlyList<StepMetrics> Metrics(string name) => MetricsLog.Read(Path.Combine(RunDirectory(name), MetricsLog.FileName));
        public string Output(string name) => _results[name].Stdout;

        /// <summary>Every tensor of the run's final model.</summary>
        public Dictionary<string, float[]> Tensors(string name)
        {
            using var reader = CheckpointReader.Open(Path.Combine(RunDirectory(name), "model"));
            return reader.TensorNames.ToDictionary(n => n, n =>
            {
                using var t = reader.ReadDequantized(n, out _);
                return t.to(ScalarType.Float32).data<float>().ToArray();
            });
        }

        public void Dispose() => _dir.Dispose();
    }
}
