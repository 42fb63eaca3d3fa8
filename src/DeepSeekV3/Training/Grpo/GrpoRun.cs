using System.Globalization;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Evaluation;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Metrics;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Grpo;

/// <summary>
/// A `dsv3 grpo` run end to end: the policy starts from the model directory (or the newest checkpoint in the run
/// directory with <see cref="GrpoOptions.Resume"/>), the reference is the model directory, frozen; each step's
/// metrics go to <c>OUT/metrics.jsonl</c>; checkpoints as `dsv3 train` writes them; at the end the policy in
/// <c>OUT/model</c> (with the tokenizer) and reward, KL and completion-length plots in <c>OUT/plots</c>.
/// </summary>
public static class GrpoRun
{
    public static GrpoSummary Execute(GrpoOptions options, TextWriter log, CancellationToken cancel = default)
    {
        string output = options.OutputDirectory;
        if (!options.Resume && TrainingCheckpoint.Latest(output) is { } existing)
            throw new InvalidArgumentException(
                $"--out \"{output}\" already holds a run ({Path.GetFileName(existing)}): add --resume to continue it, or choose another --out");
        var tokenizer = ByteLevelBpeTokenizer.Load(options.ModelDirectory);
        var task = EvalTask.Load(options.TaskPath, EvalKind.ExactMatch);
        Directory.CreateDirectory(output);
        TrainingCheckpoint.CleanUpInterrupted(output);

        string? checkpoint = options.Resume ? TrainingCheckpoint.Latest(output) : null;
        using var policy = checkpoint is null ? ModelCheckpoint.Load(options.ModelDirectory) : TrainingCheckpoint.LoadModel(checkpoint, CPU);
        using var reference = ModelCheckpoint.Load(options.ModelDirectory);
        var state = checkpoint is null ? null : TrainingCheckpoint.ReadState(checkpoint);
        using var trainer = new GrpoTrainer(policy, reference, tokenizer, task.Items, options, state);
        if (checkpoint is not null)
        {
            TrainingCheckpoint.LoadOptimizer(checkpoint, trainer.Optimizer, state!.OptimizerSteps);
            log.WriteLine($"resuming from {checkpoint} (step {state.Step})");
        }
        log.WriteLine($"grpo: {task.Items.Count} prompts from {options.TaskPath}, {options.PromptsPerStep} × G = {options.Group} completions per step, " +
                      string.Create(CultureInfo.InvariantCulture, $"ε {options.Clip}, β {options.Beta}, T {options.Temperature}, μ {options.Iterations}, lr {options.LearningRate:0.##e+0}"));
        using (var metrics = new MetricsLog(output, trainer.State.Step))
        {
            while (trainer.State.Step < options.Steps && !cancel.IsCancellationRequested)
            {
                var m = trainer.Step();
                metrics.Write(m);
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"step {m.Step}/{options.Steps} reward {m.Reward:F3} acc {m.Accuracy:F3} format {m.WellFormed:F3} kl {m.Kl:F4} " +
                    $"len {m.CompletionLength:F1} clip {m.ClippedShare:F3} loss {m.Loss:F4} {m.Seconds:F1}s | {m.Sample}"));
                if (options.SaveEvery > 0 && m.Step % options.SaveEvery == 0 && m.Step < options.Steps)
                    trainer.SaveCheckpoint(output);
            }
        }
        if (TrainingCheckpoint.Latest(output) is not { } latest || Path.GetFileName(latest) != $"step-{trainer.State.Step:D8}")
            trainer.SaveCheckpoint(output);
        string modelDirectory = Path.Combine(output, TrainingRun.FinalModelFolder);
        ModelCheckpoint.Save(policy, modelDirectory, new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32 });
        TokenizerFiles.CopyTo(options.ModelDirectory, modelDirectory);
        var all = MetricsLog.Read<GrpoStepMetrics>(Path.Combine(output, MetricsLog.FileName));
        var plots = Plot(all, Path.Combine(output, TrainingRun.PlotsFolder));
        return GrpoSummary.Of(all, modelDirectory, plots);
    }

    /// <summary>reward.png (mean reward, accuracy, well-formed share), kl.png and length.png over steps.</summary>
    public static IReadOnlyList<string> Plot(IReadOnlyList<GrpoStepMetrics> metrics, string directory)
    {
        Directory.CreateDirectory(directory);
        double[] steps = metrics.Select(m => (double)m.Step).ToArray();
        (string, double[], double[]) Series(string label, Func<GrpoStepMetrics, double> value) => (label, steps, metrics.Select(value).ToArray());
        return
        [
            TrainingPlots.Compare([Series("mean reward", m => m.Reward), Series("accuracy", m => m.Accuracy), Series("well-formed", m => m.WellFormed)],
                Path.Combine(directory, "reward.png"), "GRPO reward", "per completion"),
            TrainingPlots.Compare([Series("KL to reference (k3)", m => m.Kl)], Path.Combine(directory, "kl.png"), "GRPO KL", "nats per token"),
            TrainingPlots.Compare([Series("completion length", m => m.CompletionLength)], Path.Combine(directory, "length.png"), "GRPO completion length", "tokens"),
        ];
    }
}
