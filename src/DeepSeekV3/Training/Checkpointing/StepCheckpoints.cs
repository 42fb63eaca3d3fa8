using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Optimization;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Checkpointing;

/// <summary>
/// Checkpoints and resume for the fine-tuning loops that train a model already in memory — <c>dsv3 mtp-tune</c>
/// (<see cref="Mtp.MtpSelfDistillation"/>) and <c>dsv3 distill --logit-kd</c>
/// (<see cref="Distillation.LogitDistillation"/>) — in <c>dsv3 train</c>'s format and rules
/// (<see cref="TrainingCheckpoint"/>: RUN/checkpoints/step-N with the model, the AdamW moments, the RNG state and
/// trainer_state.json, written atomically, the newest K kept; a fresh start refused where a run exists). Those loops
/// have no other state: their window order is a seeded function of the step.
/// </summary>
public sealed record StepCheckpoints
{
    /// <summary>Where checkpoints go: RunDirectory/checkpoints/.</summary>
    public required string RunDirectory { get; init; }

    /// <summary>Checkpoint every N steps (0: never).</summary>
    public int SaveEvery { get; init; }

    public int KeepLast { get; init; } = 3;

    /// <summary>Continue from the newest checkpoint in <see cref="RunDirectory"/>.</summary>
    public bool Resume { get; init; }

    /// <summary>
    /// Before the first step: checks the run directory and, when resuming from a checkpoint, copies its weights (and
    /// routing biases) into <paramref name="model"/> and its moments into <paramref name="optimizer"/>. Returns the
    /// steps already done (0 for a fresh start). The checkpoint must come from the same <paramref name="seed"/> and
    /// <paramref name="sequenceLength"/>, which fix the window order.
    /// </summary>
    public long Restore(DeepSeekV3ForCausalLM model, AdamW optimizer, long seed, int sequenceLength)
    {
        TrainingCheckpoint.CheckRunDirectory(RunDirectory, Resume);
        TrainingCheckpoint.CleanUpInterrupted(RunDirectory);
        if (!Resume || TrainingCheckpoint.Latest(RunDirectory) is not { } checkpoint) return 0;
        var state = TrainingCheckpoint.ReadState(checkpoint);
        if (state.DataSeed != seed || state.SequenceLength != sequenceLength)
            throw new InvalidArgumentException(
                $"{checkpoint}: saved with --seed {state.DataSeed} and --seq-len {state.SequenceLength}; this run has {seed} and {sequenceLength} (the window order would differ)");
        using (var saved = TrainingCheckpoint.LoadModel(checkpoint, CPU))
        using (no_grad())
        {
            var weights = saved.state_dict();
            foreach (var (name, tensor) in model.state_dict())
                tensor.copy_(weights.TryGetValue(name, out var value) ? value
                    : throw new DeepSeekV3Exception($"{checkpoint}: no tensor {name} for the model being tuned"));
        }
        TrainingCheckpoint.LoadOptimizer(checkpoint, optimizer, state.OptimizerSteps);
        return state.Step;
    }

    /// <summary>After step <paramref name="step"/>: a checkpoint when it is due.</summary>
    public void AfterStep(DeepSeekV3ForCausalLM model, AdamW optimizer, long step, long seed, int sequenceLength)
    {
        if (SaveEvery <= 0 || step % SaveEvery != 0) return;
        var state = new TrainerState
        {
            Step = step,
            OptimizerSteps = optimizer.StepCount,
            DataSeed = seed,
            SequenceLength = sequenceLength,
        };
        TrainingCheckpoint.Save(RunDirectory, model, optimizer, state, KeepLast);
    }
}
