using DeepSeekV3.Checkpoints;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Objectives;
using DeepSeekV3.Training.Optimization;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class TrainerTests
{
    private static readonly TrainerOptions Options = new()
    {
        Steps = 6,
        BatchSequences = 4,
        MicroBatchSequences = 2,
        BatchRamp = true,
        PeakLearningRate = 3e-3,
        WarmupSteps = 2,
        KeepLast = 2,
    };

    private static PackedDataset Data()
    {
        var docs = Enumerable.Range(0, 40)
            .Select(d => System.Text.Encoding.UTF8.GetBytes($"document {d}: the quick brown fox {d * 7 % 13} jumps").Select(b => (int)b).ToArray())
            .ToList();
        return PackedDataset.Build(new InMemoryDocuments(docs), new ByteTokenEncoder(), new DataOptions { SequenceLength = 12, FimRate = 0.5, Seed = 3 });
    }

    [Fact]
    public void Resumed_run_gives_the_same_losses_bit_for_bit_as_an_uninterrupted_run()
    {
        var data = Data();
        using var dir = new TempDirectory();

        List<double> uninterrupted;
        using (var model = TinyModels.Create(seed: 4, std: 0.006))
        using (var trainer = new Trainer(model, data, Options))
            uninterrupted = Enumerable.Range(0, 6).Select(_ => trainer.Step().TotalLoss).ToList();

        var resumed = new List<double>();
        using (var model = TinyModels.Create(seed: 4, std: 0.006))
        using (var trainer = new Trainer(model, data, Options))
        {
            for (int i = 0; i < 3; i++) resumed.Add(trainer.Step().TotalLoss);
            trainer.SaveCheckpoint(dir.Path);
        }
        var (loaded, optimizer, state) = TrainingCheckpoint.Load(TrainingCheckpoint.Latest(dir.Path)!, CPU,
            m => AdamW.For(m, Options.Adam));
        using (loaded)
        using (var trainer = new Trainer(loaded, data, Options, optimizer, state))
            for (int i = 0; i < 3; i++) resumed.Add(trainer.Step().TotalLoss);

        Assert.Equal(uninterrupted, resumed);
    }

    [Fact]
    public void A_crash_during_save_leaves_the_previous_checkpoint_loadable()
    {
        using var dir = new TempDirectory();
        using var run = new TinyRun(Options);
        var (model, trainer) = (run.Model, run.Trainer);
        trainer.Step();
        string first = trainer.SaveCheckpoint(dir.Path);
        trainer.Step();
        Assert.Throws<IOException>(() => trainer.SaveCheckpoint(dir.Path, _ => throw new IOException("killed during save")));

        Assert.Equal(first, TrainingCheckpoint.Latest(dir.Path));
        using var reloaded = ModelCheckpoint.Load(Path.Combine(first, TrainingCheckpoint.ModelFolder));
        var (model2, optimizer2, state2) = TrainingCheckpoint.Load(first, CPU, m => AdamW.For(m));
        using (model2)
        using (optimizer2)
            Assert.Equal(1, state2.Step);
        TrainingCheckpoint.CleanUpInterrupted(dir.Path);
        Assert.Single(Directory.GetDirectories(Path.Combine(dir.Path, TrainingCheckpoint.Folder)));
    }

    [Fact]
    public void Checkpoints_keep_only_the_last_k_and_store_router_biases()
    {
        using var dir = new TempDirectory();
        using var run = new TinyRun(Options);
        var (model, trainer) = (run.Model, run.Trainer);
        for (int i = 0; i < 3; i++)
        {
            trainer.Step();
            trainer.SaveCheckpoint(dir.Path);
        }
        var kept = Directory.GetDirectories(Path.Combine(dir.Path, TrainingCheckpoint.Folder)).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["step-00000002", "step-00000003"], kept);
        using var reloaded = ModelCheckpoint.Load(Path.Combine(dir.Path, TrainingCheckpoint.Folder, "step-00000003", TrainingCheckpoint.ModelFolder));
        var bias = reloaded.Model.Layers[1].Moe!.Gate.ExpertScoreCorrectionBias!;
        Assert.True(bias.abs().sum().item<float>() > 0);                                  // aux-free updates were saved
        Assert.Equal(model.Model.Layers[1].Moe!.Gate.ExpertScoreCorrectionBias!.data<float>().ToArray(), bias.data<float>().ToArray());
    }

    [Fact]
    public void A_non_finite_gradient_skips_the_step_and_the_run_continues()
    {
        var data = Data();
        using var model = TinyModels.Create(seed: 4, std: 0.006);
        using var trainer = new Trainer(model, data, Options)
        {
            AfterBackward = (m, step) => { if (step == 1) m.LmHead.Weight.grad!.fill_(float.NaN); },
        };
        trainer.Step();
        var before = model.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        var skipped = trainer.Step();
        Assert.True(skipped.Skipped);
        Assert.Equal(1, skipped.SkippedTotal);
        foreach (var (name, value) in model.state_dict())
            Assert.True(value.equal(before[name]).all().item<bool>(), $"{name} changed in a skipped step");
        var next = trainer.Step();
        Assert.False(next.Skipped);
        Assert.True(double.IsFinite(next.TotalLoss));
        Assert.Equal(2, trainer.Optimizer.StepCount);
    }

    [Fact]
    public void Gradient_accumulation_over_micro_batches_equals_one_full_batch()
    {
        var full = FirstStepGradients(Options with { MicroBatchSequences = 4, BatchRamp = false });
        var accumulated = FirstStepGradients(Options with { MicroBatchSequences = 1, BatchRamp = false });
        Assert.Equal(full.Keys.Order(), accumulated.Keys.Order());
        foreach (var (name, value) in full)
            Assert.True(value.Zip(accumulated[name]).All(p => Math.Abs(p.First - p.Second) <= 1e-7 + 1e-4 * Math.Abs(p.First)),
                        $"gradient of {name} differs");
    }

    private static Dictionary<string, float[]> FirstStepGradients(TrainerOptions options)
    {
        var grads = new Dictionary<string, float[]>();
        using var model = TinyModels.Create(seed: 4, std: 0.006);
        using var trainer = new Trainer(model, Data(), options)
        {
            AfterBackward = (m, _) =>
            {
                foreach (var (name, p) in m.named_parameters())
                    if (p.grad is { } g) grads[name] = g.reshape(-1).data<float>().ToArray();
            },
        };
        trainer.Step();
        return grads;
    }

    [Fact]
    public void Aux_loss_baseline_never_moves_the_biases()
    {
        using var run = new TinyRun(Options with { Objective = new ObjectiveOptions { Balance = BalanceMode.AuxLoss } });
        var (model, trainer) = (run.Model, run.Trainer);
        for (int i = 0; i < 2; i++) Assert.True(trainer.Step().BalanceLoss > 0);
        Assert.Equal(0, model.Model.Layers[1].Moe!.Gate.ExpertScoreCorrectionBias!.abs().sum().item<float>());
    }

    /// <summary>A tiny model at the report's init scale and a trainer over <see cref="Data"/>.</summary>
    private sealed class TinyRun : IDisposable
    {
        public TinyRun(TrainerOptions options)
        {
            Model = TinyModels.Create(seed: 4, std: 0.006);
            Trainer = new Trainer(Model, Data(), options);
        }

        public DeepSeekV3ForCausalLM Model { get; }
        public Trainer Trainer { get; }

        public void Dispose()
        {
            Trainer.Dispose();
            Model.Dispose();
        }
    }
}
