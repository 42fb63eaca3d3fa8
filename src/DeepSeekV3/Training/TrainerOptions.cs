using DeepSeekV3.Precision;
using DeepSeekV3.Training.Objectives;
using DeepSeekV3.Training.Optimization;

namespace DeepSeekV3.Training;

/// <summary>
/// One pre-training run. Schedules default to the report's shapes (§4.2) scaled to <see cref="Steps"/>: LR warm-up,
/// constant, cosine decay, low tail; batch ramp; λ 0.3 → 0.1 at 10/14.8 of the run; γ 0.001 → 0 at 14.3/14.8.
/// </summary>
public sealed record TrainerOptions
{
    public int Steps { get; init; } = 1000;

    /// <summary>Sequences per optimizer step once the ramp is over (batch tokens / sequence length).</summary>
    public int BatchSequences { get; init; } = 32;

    /// <summary>Sequences per forward/backward; a step accumulates gradients over ⌈batch / micro⌉ micro-batches.</summary>
    public int MicroBatchSequences { get; init; } = 8;

    /// <summary>Ramp the batch from 1/5 to full over the report's share of the run.</summary>
    public bool BatchRamp { get; init; } = true;

    public double PeakLearningRate { get; init; } = 1e-3;
    public int? WarmupSteps { get; init; }
    public double GradientClip { get; init; } = 1.0;
    public AdamWOptions Adam { get; init; } = new();
    public ObjectiveOptions Objective { get; init; } = new();

    public double MtpWeight { get; init; } = 0.3;
    public double MtpWeightLate { get; init; } = 0.1;
    public double BiasUpdateSpeed { get; init; } = 0.001;

    /// <summary>Evaluate validation loss every N steps (0: only at the end) over up to EvalWindows windows.</summary>
    public int EvalEvery { get; init; } = 100;
    public int EvalWindows { get; init; } = 16;

    /// <summary>Checkpoint every N steps (0: only at the end); keep the newest KeepLast.</summary>
    public int SaveEvery { get; init; }
    public int KeepLast { get; init; } = 3;

    public long Seed { get; init; }

    /// <summary>What the matmuls compute in (report §3.3); master weights and gradients are float32 in every mode.</summary>
    public TrainingPrecision Precision { get; init; } = TrainingPrecision.Float32;

    /// <summary>The FP8 recipe when <see cref="Precision"/> is FP8.</summary>
    public Fp8Recipe Fp8 { get; init; } = Fp8Recipe.Report;

    /// <summary>The dtype whose measured matmul peak is MFU's denominator: bfloat16 for bfloat16 training, float32
    /// otherwise (the FP8 emulation's GEMMs run in float32 on the CPU).</summary>
    public TorchSharp.torch.ScalarType PeakDtype =>
        Precision == TrainingPrecision.BFloat16 ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;

    /// <summary>Replaces the report's pre-training shape (e.g. fine-tuning's cosine decay, <see cref="LearningRateSchedule.Cosine"/>).</summary>
    public LearningRateSchedule? Schedule { get; init; }

    public LearningRateSchedule LearningRate() => Schedule ?? LearningRateSchedule.ReportShaped(PeakLearningRate, Steps, WarmupSteps);

    public BatchSizeSchedule BatchSize() => BatchRamp
        ? BatchSizeSchedule.ReportShaped(BatchSequences, Steps)
        : BatchSizeSchedule.Constant(BatchSequences);

    public StepSchedule MtpWeights() => StepSchedule.Switch(MtpWeight, MtpWeightLate, 10.0 / 14.8, Steps);

    /// <summary>γ: the bias update speed; always 0 for the aux-loss baseline.</summary>
    public StepSchedule BiasSpeeds() => Objective.Balance == BalanceMode.AuxFree
        ? StepSchedule.Switch(BiasUpdateSpeed, 0, 14.3 / 14.8, Steps)
        : StepSchedule.Constant(0);
}
