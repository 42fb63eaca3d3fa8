using DeepSeekV3.Cli;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Distillation;
using DeepSeekV3.Training.Mtp;

namespace DeepSeekV3.Tests.Training;

/// <summary>`dsv3 mtp-tune` and `dsv3 distill --logit-kd` resume like `dsv3 train`: an interrupted run continued
/// from its checkpoint reproduces the uninterrupted run (losses and final weights).</summary>
public class StepCheckpointsTests
{
    private const int Steps = 6;

    /// <summary>8 random windows of T = 8 (chat-like: the second half of each example trained); 3 per step, so the
    /// resumed run (after step 4, at window 12 ≡ 4) must pick up the window order where it stopped.</summary>
    private static PackedDataset Data(int vocab)
    {
        var rng = new DeepSeekV3.Randomness.SplitMix64(9);
        var examples = Enumerable.Range(0, 6).Select(_ =>
        {
            var tokens = Enumerable.Range(0, 12).Select(_ => (int)rng.NextLong(vocab)).ToArray();
            return new SupervisedExample(tokens, tokens.Select((_, i) => i >= 6).ToArray());
        }).ToList();
        return PackedDataset.Pack(examples, new DataOptions { SequenceLength = 8, FimRate = 0, ValidationFraction = 0 });
    }

    /// <summary>Runs a loop (a fresh model each time, same seed) to the end, or until it throws after
    /// <paramref name="stopAfter"/> steps (a killed process); returns the losses it reported and the final weights.</summary>
    private delegate void Loop(DeepSeekV3ForCausalLM model, PackedDataset data, Action<int, double> onStep, StepCheckpoints checkpoints);

    private static (List<(int, double)> Losses, Dictionary<string, float[]> Weights) Run(Loop loop, StepCheckpoints checkpoints, int stopAfter = int.MaxValue)
    {
        using var model = TinyModels.Create(seed: 2, std: 0.05);
        var data = Data(model.Config.VocabSize);
        var losses = new List<(int, double)>();
        try
        {
            loop(model, data, (step, loss) =>
            {
                losses.Add((step, loss));
                if (step == stopAfter) throw new OperationCanceledException("killed");
            }, checkpoints);
        }
        catch (OperationCanceledException) when (stopAfter != int.MaxValue) { }
        return (losses, model.state_dict().ToDictionary(p => p.Key, p => p.Value.to(TorchSharp.torch.ScalarType.Float32).data<float>().ToArray()));
    }

    private static void ResumeEqualsUninterrupted(Loop loop)
    {
        using var dir = new TempDirectory();
        var whole = Run(loop, new StepCheckpoints { RunDirectory = dir.File("whole") });
        Assert.Equal(Steps, whole.Losses.Count);
        Assert.False(Directory.Exists(dir.File(Path.Combine("whole", TrainingCheckpoint.Folder))));          // SaveEvery 0: none

        // Killed after step 5, checkpoints every 2: the newest is step 4, so steps 5 and 6 are run again.
        var checkpoints = new StepCheckpoints { RunDirectory = dir.File("cut"), SaveEvery = 2, KeepLast = 2 };
        var cut = Run(loop, checkpoints, stopAfter: 5);
        Assert.Equal(whole.Losses.Take(5), cut.Losses);
        Assert.Equal("step-00000004", Path.GetFileName(TrainingCheckpoint.Latest(dir.File("cut"))));
        Assert.Contains("already holds a run", Assert.Throws<InvalidArgumentException>(() => Run(loop, checkpoints)).Message);

        var resumed = Run(loop, checkpoints with { Resume = true });
        Assert.Equal(whole.Losses.Skip(4), resumed.Losses);                                                 // bit for bit
        foreach (var (name, weights) in whole.Weights)
            Assert.True(weights.SequenceEqual(resumed.Weights[name]), $"{name} differs after the resume");
        Assert.Equal("step-00000006", Path.GetFileName(TrainingCheckpoint.Latest(dir.File("cut"))));
        Assert.Equal(2, Directory.GetDirectories(dir.File(Path.Combine("cut", TrainingCheckpoint.Folder))).Length);

        // Another seed or window length would read other windows: refused.
        var other = checkpoints with { Resume = true };
        Assert.Contains("the window order would differ", Assert.Throws<InvalidArgumentException>(() =>
            Run((model, data, onStep, c) => loop(model, PackedDataset.Pack([new([1, 2, 3, 4, 5, 6, 7], [true, true, true, true, true, true, true])],
                new DataOptions { SequenceLength = 3, ValidationFraction = 0 }), onStep, c), other)).Message);
    }

    [Fact]
    public void Mtp_tune_resumed_from_a_checkpoint_reproduces_the_uninterrupted_run() => ResumeEqualsUninterrupted((model, data, onStep, checkpoints) =>
    {
        using var tuner = new MtpSelfDistillation(model, new MtpTuneOptions { Steps = Steps, BatchSequences = 3, LearningRate = 1e-2, Warmup = 2, SoftTargets = true });
        tuner.Run(data, (step, loss, _) => onStep(step, loss), checkpoints);
    });

    [Fact]
    public void Logit_distillation_resumed_from_a_checkpoint_reproduces_the_uninterrupted_run() => ResumeEqualsUninterrupted((student, data, onStep, checkpoints) =>
    {
        using var teacher = TinyModels.Create(seed: 1, std: 0.1);
        using var kd = new LogitDistillation(teacher, student, new LogitDistillationOptions { Steps = Steps, BatchSequences = 3, LearningRate = 1e-2, Warmup = 2 });
        kd.Run(data, onStep, checkpoints);
    });

    [Fact]
    public void Mtp_tune_command_resumes_to_the_uninterrupted_model()
    {
        using var dir = new TempDirectory();
        string repository = Path.GetFullPath(Path.Combine(BundledModelTests.ModelDirectory(), "..", ".."));
        string[] args = ["mtp-tune", "--model", BundledModelTests.ModelDirectory(), "--data", Path.Combine(repository, "data", "eval", "text.jsonl"),
                         "--out", dir.File("run"), "--steps", "4", "--seq-len", "16", "--batch", "3", "--lr", "1e-3", "--soft",
                         "--documents", "6", "--eval-prompts", "1", "--eval-tokens", "4", "--save-every", "2"];
        var output = new StringWriter();
        Assert.True(CliApp.Run(args, output, output) == 0, output.ToString());
        byte[] uninterrupted = File.ReadAllBytes(dir.File(Path.Combine("run", "model.safetensors")));
        Directory.Delete(dir.File(Path.Combine("run", TrainingCheckpoint.Folder, "step-00000004")), recursive: true);
        File.Delete(dir.File(Path.Combine("run", "model.safetensors")));
        Assert.NotEqual(0, CliApp.Run(args, output, output));                                 // a run is there: refused
        Assert.True(CliApp.Run([.. args, "--resume"], output, output) == 0, output.ToString());
        Assert.Equal(uninterrupted, File.ReadAllBytes(dir.File(Path.Combine("run", "model.safetensors"))));
    }

    [Fact]
    public void Distill_logit_kd_command_resumes_to_the_uninterrupted_model_reusing_the_teacher_data()
    {
        using var dir = new TempDirectory();
        string repository = Path.GetFullPath(Path.Combine(BundledModelTests.ModelDirectory(), "..", ".."));
        string[] args = ["distill", "--teacher", BundledModelTests.ModelDirectory(), "--student", BundledModelTests.ModelDirectory(),
                         "--prompts", Path.Combine(repository, "data", "grpo", "sums-train.jsonl"), "--out", dir.File("run"),
                         "--max-tokens", "4", "--logit-kd", "--steps", "4", "--batch", "3", "--seq-len", "16", "--lr", "1e-3", "--save-every", "2"];
        var output = new StringWriter();
        Assert.True(CliApp.Run(args, output, output) == 0, output.ToString());
        string model = dir.File(Path.Combine("run", "model", "model.safetensors")), data = dir.File(Path.Combine("run", "distill.jsonl"));
        byte[] uninterrupted = File.ReadAllBytes(model);
        Directory.Delete(dir.File(Path.Combine("run", TrainingCheckpoint.Folder, "step-00000004")), recursive: true);
        File.Delete(model);
        File.SetLastWriteTimeUtc(data, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var resumed = new StringWriter();
        Assert.True(CliApp.Run([.. args, "--resume"], resumed, resumed) == 0, resumed.ToString());
        Assert.Contains("teacher: reusing", resumed.ToString());
        Assert.Equal(new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(data));   // not rewritten
        Assert.Equal(uninterrupted, File.ReadAllBytes(model));
    }
}
