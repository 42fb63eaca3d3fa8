using DeepSeekV3.Checkpoints;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Training.Metrics;
using static TorchSharp.torch;

using static DeepSeekV3.Tests.Distributed.RunComparison;

namespace DeepSeekV3.Tests.Distributed;

/// <summary>
/// `dsv3 train` under real mpiexec: data parallelism with ZeRO-1 and expert parallelism must reproduce the
/// one-process run, step by step, up to the order of fp32 sums, and a checkpoint written by some number of ranks
/// must resume on any other. The runs are made once for the class.
/// </summary>
public sealed class DistributedTrainingTests(DistributedTrainingTests.Runs runs) : IClassFixture<DistributedTrainingTests.Runs>
{
    [Theory]
    [InlineData("dp2", 2)]
    [InlineData("dp4", 4)]
    [InlineData("ep2", 2)]
    [InlineData("ep4-nodes", 4)]
    [InlineData("ep2x2-blocking", 4)]
    public void Parallel_training_gives_the_one_process_losses_and_expert_biases(string run, int ranks)
    {
        var single = runs.Metrics("single");
        Assert.Equal(5, single.Count);
        {
            var parallel = runs.Metrics(run);
            Assert.Equal(single.Select(m => m.Step), parallel.Select(m => m.Step));
            for (int i = 0; i < single.Count; i++)
            {
                AssertClose(single[i].Loss, parallel[i].Loss, $"{run} step {i + 1} loss");
                AssertClose(single[i].MtpLoss, parallel[i].MtpLoss, $"{run} step {i + 1} mtp loss");
                AssertClose(single[i].TotalLoss, parallel[i].TotalLoss, $"{run} step {i + 1} total loss");
                AssertClose(single[i].GradNorm, parallel[i].GradNorm, $"{run} step {i + 1} grad norm");
            }
            AssertClose(single[^1].ValidationLoss!.Value, parallel[^1].ValidationLoss!.Value, $"{run} validation loss");
            Assert.Equal(ranks, parallel[0].Ranks);
            Assert.All(parallel, m => Assert.True(m.CommunicationSeconds > 0 && m.CommunicationSeconds < m.Seconds));
            if (run.StartsWith("ep", StringComparison.Ordinal))
                Assert.All(parallel, m => Assert.True(m.DispatchSeconds > 0 && m.DispatchSeconds <= m.CommunicationSeconds));

            // The aux-free bias update saw the global loads: every bias moved as in one process.
            var expected = runs.Biases("single");
            var actual = runs.Biases(run);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            Assert.NotEmpty(expected);
            foreach (var (name, values) in expected)
                Assert.Equal(values, actual[name]);
        }
        Assert.Contains($"ranks {ranks} comm", runs.Output(run));
        Assert.DoesNotContain("step 1/5", runs.Stderr(run));
    }

    [Fact]
    public void ZeRO_1_gives_each_of_2_ranks_half_of_the_optimizer_state_and_together_all_of_it()
    {
        AssertHalvesOfTheOptimizerState(Path.Combine(runs.RunDirectory("dp2"), "checkpoints", "step-00000005"),
            Path.Combine(runs.RunDirectory("single"), "checkpoints", "step-00000005"));
    }

    [Theory]
    [InlineData("dp2", 1, 1)]
    [InlineData("dp2", 4, 1)]
    [InlineData("ep2", 1, 1)]
    [InlineData("ep2", 4, 4)]
    public void A_checkpoint_written_by_2_ranks_resumes_on_another_number_of_ranks_with_the_same_next_losses(string saved, int ranks, int ep)
    {
        using var dir = new TempDirectory();
        string run = dir.File("run");
        CopyDirectory(runs.RunDirectory(saved), run);
        // Resume from step 3, as if the job had died after it: the step-5 checkpoint is gone.
        Directory.Delete(Path.Combine(run, "checkpoints", "step-00000005"), recursive: true);
        Assert.Equal(2, Directory.EnumerateFiles(Path.Combine(run, "checkpoints", "step-00000003"), "optimizer-*").Count());

        string[] args = [.. runs.Arguments(run), "--resume", "--ep", ep.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        var result = ranks == 1 ? MpiJob.RunSingle(args) : MpiJob.Run(ranks, args);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("resuming from", result.Stdout);
        var resumed = MetricsLog.Read(Path.Combine(run, MetricsLog.FileName));
        var uninterrupted = runs.Metrics(saved);
        Assert.Equal([1L, 2, 3, 4, 5], resumed.Select(m => m.Step));
        for (int i = 3; i < 5; i++)
        {
            AssertClose(uninterrupted[i].Loss, resumed[i].Loss, $"step {i + 1} loss after resuming on {ranks}");
            AssertClose(uninterrupted[i].TotalLoss, resumed[i].TotalLoss, $"step {i + 1} total loss after resuming on {ranks}");
        }
    }

    [Fact]
    public void A_layout_the_model_cannot_take_fails_on_every_rank_with_the_rule_and_a_non_zero_exit()
    {
        using var dir = new TempDirectory();
        var result = MpiJob.Run(2, [.. runs.Arguments(dir.File("run")), "--ep", "3"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--ep 3: must divide the number of ranks (2)", result.Stderr);
    }

    /// <summary>Runs of the same 5-step job: one process; data parallel on 2 and 4 ranks (4 oversubscribe the 2
    /// cores); expert parallel on 2, on 4 in four nodes, and 2 × 2 without overlap.</summary>
    public sealed class Runs : IDisposable
    {
        private readonly TempDirectory _dir = new();
        private readonly Dictionary<string, MpiJobResult> _results = [];

        public Runs()
        {
            File.WriteAllLines(_dir.File("docs.jsonl"), Enumerable.Range(0, 60).Select(i =>
                $"{{\"text\": \"document {i}: routed experts, shared experts and a router with {i % 7} biases.\"}}"));
            // Tokenize once, so the parallel runs read the cache as users' second runs do.
            _results["single"] = MpiJob.RunSingle(Arguments(RunDirectory("single")));
            _results["dp2"] = MpiJob.Run(2, Arguments(RunDirectory("dp2")));
            _results["dp4"] = MpiJob.Run(4, Arguments(RunDirectory("dp4")));
            _results["ep2"] = MpiJob.Run(2, [.. Arguments(RunDirectory("ep2")), "--ep", "2"]);
            // 8 experts in 4 groups over 4 one-rank nodes: node-limited routing keeps each token on 2 of them.
            _results["ep4-nodes"] = MpiJob.Run(4, [.. Arguments(RunDirectory("ep4-nodes")), "--ep", "4", "--ranks-per-node", "1"]);
            // Two expert-parallel groups of 2 (experts replicated twice), blocking dispatch and combine.
            _results["ep2x2-blocking"] = MpiJob.Run(4, [.. Arguments(RunDirectory("ep2x2-blocking")), "--ep", "2", "--no-overlap"]);
            foreach (var (name, result) in _results)
                Assert.True(result.ExitCode == 0, $"{name}: {result}");
        }

        public string RunDirectory(string name) => _dir.File(name);

        /// <summary>tiny preset, 8 sequences of 16 tokens per step in micro-batches of 2, no ramp, 5 steps,
        /// validation at the end, a checkpoint at step 3 (kept) and 5.</summary>
        public string[] Arguments(string run) =>
        [
            "train", "--preset", "tiny", "--data", _dir.File("docs.jsonl"), "--out", run, "--token-cache", _dir.File("cache"),
            "--seq-len", "16", "--batch-tokens", "128", "--micro-batch", "2", "--no-batch-ramp", "--steps", "5",
            "--eval-every", "5", "--save-every", "3", "--keep", "5", "--log-every", "1", "--no-plots",
        ];

        public IReadOnlyList<StepMetrics> Metrics(string name) => MetricsLog.Read(Path.Combine(RunDirectory(name), MetricsLog.FileName));
        public string Output(string name) => _results[name].Stdout;
        public string Stderr(string name) => _results[name].Stderr;

        /// <summary>Every router's correction bias in the run's final model.</summary>
        public Dictionary<string, float[]> Biases(string name)
        {
            using var reader = CheckpointReader.Open(Path.Combine(RunDirectory(name), "model"));
            return reader.TensorNames.Where(n => n.EndsWith("e_score_correction_bias", StringComparison.Ordinal))
                .ToDictionary(n => n, n =>
                {
                    using var t = reader.ReadDequantized(n, out _);
                    return t.to(ScalarType.Float32).data<float>().ToArray();
                });
        }

        public void Dispose() => _dir.Dispose();
    }
}
