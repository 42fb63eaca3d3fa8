using System.Globalization;
using System.Text.RegularExpressions;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Cli;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Distributed;

/// <summary>
/// `dsv3 generate --ep N` as real MPI jobs against one process running every pass on LibTorch: the same greedy
/// tokens and the same logits at every pass (≤ 1e-4), with and without redundant experts and across re-plans that
/// move experts between ranks in the middle of a generation. In one class so the launches run one after another.
/// </summary>
public sealed partial class ExpertParallelGenerationTests : IDisposable
{
    private const string Prompt = "3,1,4,1,5,9,2,6";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(2, 0, 0)]
    [InlineData(2, 1, 3)]
    [InlineData(4, 0, 0)]
    [InlineData(4, 2, 4)]
    public void Expert_parallel_generation_gives_the_tokens_and_logits_of_one_process(int ranks, int redundant, int rebalanceEvery)
    {
        string model = Checkpoint(skewed: false);
        var (reference, referenceLogits) = OneProcess(model);

        string logits = _dir.File($"ep{ranks}.txt");
        var job = MpiJob.Run(ranks, Generate(model, logits, "--ep", $"{ranks}", "--redundant-experts", $"{redundant}", "--rebalance-every", $"{rebalanceEvery}"));

        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Equal(reference, GeneratedLine(job.Stdout));
        AssertClose(referenceLogits, ReadLogits(logits), 1e-4);
        Assert.Contains($"{8 + ranks * redundant} physical experts per MoE layer", job.Stderr);
        if (rebalanceEvery > 0)
            Assert.True(Replans(job.Stderr).Count >= 2, job.ToString());               // 11 decode steps
    }

    [Fact]
    public void A_replan_on_a_skewed_router_balances_the_ranks_and_keeps_the_output()
    {
        string model = Checkpoint(skewed: true);
        var (reference, referenceLogits) = OneProcess(model);

        string logits = _dir.File("skewed.txt");
        var job = MpiJob.Run(2, Generate(model, logits, "--ep", "2", "--redundant-experts", "1", "--rebalance-every", "4"));

        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Equal(reference, GeneratedLine(job.Stdout));
        AssertClose(referenceLogits, ReadLogits(logits), 1e-4);
        var (before, after) = Replans(job.Stderr)[0];
        // Every token picks experts 0 and 1. Initially both live on rank 0, and rank 1's redundant slot holds a replica
        // of expert 0, which takes half of its pairs: rank loads 1.5 : 0.5, balancedness 1 / 1.5. EPLB gives the two
        // busy experts the redundant slots and puts one replica of each on each rank: 1.
        Assert.True(before < 0.7, job.Stderr);
        Assert.True(after >= 0.99, job.Stderr);
        // What the ranks then computed: round-robin splits each busy expert's 7 remaining pairs per layer 4 : 3.
        double measured = double.Parse(MeasuredAtEnd().Match(job.Stderr).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(measured > before && measured >= 0.85, job.Stderr);
    }

    [Fact]
    public void Ep_without_enough_ranks_is_refused_on_one_line()
    {
        var job = MpiJob.RunSingle("generate", "--model", Checkpoint(skewed: false), "--tokens", Prompt, "--ep", "2");
        Assert.Equal(2, job.ExitCode);
        Assert.Contains("--ep 2: expert-parallel generation spreads the experts over every rank; the job has 1", job.Stderr);
    }

    private static string[] Generate(string model, string logits, params string[] extra) =>
        ["generate", "--model", model, "--tokens", Prompt, "--max-tokens", "12", "--dump-logits", logits, .. extra];

    /// <summary>The same generation in this process on LibTorch: its generated line and its logits.</summary>
    private (string Generated, float[][] Logits) OneProcess(string model)
    {
        string logits = _dir.File($"one-{Path.GetFileName(model)}.txt");
        var (code, output, error) = CliTests.Run(Generate(model, logits, "--backend", "torch"));
        Assert.True(code == 0, error);
        return (GeneratedLine(output), ReadLogits(logits));
    }

    /// <summary>A tiny model (std 0.02, so routing varies from token to token); skewed: every MoE layer's correction
    /// bias makes every token choose experts 0 and 1 (eq. 16: the bias decides the choice, not the weights).</summary>
    private string Checkpoint(bool skewed)
    {
        string path = _dir.File(skewed ? "skewed" : "plain");
        if (Directory.Exists(path)) return path;
        using var model = TinyModels.Create(seed: 5);
        if (skewed)
            using (no_grad())
                foreach (var moe in DeepSeekV3.Distributed.ExpertParallel.MoeLayers(model))
                    moe.Gate.ExpertScoreCorrectionBias!.copy_(tensor(new float[] { 1, 1, 0, 0, 0, 0, 0, 0 }));
        ModelCheckpoint.Save(model, path);
        return path;
    }

    private static string GeneratedLine(string stdout) => stdout.Split('\n').Single(l => l.StartsWith("generated:", StringComparison.Ordinal)).Trim();

    private static float[][] ReadLogits(string path) =>
        File.ReadAllLines(path).Select(l => l.Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    private static void AssertClose(float[][] expected, float[][] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual).Max(rows => rows.First.Zip(rows.Second).Max(v => Math.Abs(v.First - v.Second)));
        Assert.True(worst <= tolerance, $"max |Δlogit| {worst:E2} > {tolerance:E0}");
    }

    private static List<(double Before, double After)> Replans(string stderr) =>
        Replan().Matches(stderr).Select(m => (double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture),
                                              double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))).ToList();

    [GeneratedRegex(@"re-plan after \d+ decode steps .*?balancedness ([\d.]+) → ([\d.]+)")]
    private static partial Regex Replan();

    [GeneratedRegex(@"since the last re-plan \(\d+ pairs\): balancedness ([\d.]+)")]
    private static partial Regex MeasuredAtEnd();
}
