namespace DeepSeekV3.Training.Distillation;

/// <summary>How <see cref="LogitDistillation"/> trains the student.</summary>
public sealed record LogitDistillationOptions
{
    /// <summary>τ: both distributions are softmax(z / τ); the loss is scaled by τ² so its gradients keep their size
    /// as τ changes (Hinton et al. 2015).</summary>
    public double Temperature { get; init; } = 1.0;

    public int Steps { get; init; } = 100;

    /// <summary>Windows per step.</summary>
    public int BatchSequences { get; init; } = 8;

    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Linear warm-up steps, then constant.</summary>
    public int Warmup { get; init; } = 5;

    /// <summary>Orders the windows.</summary>
    public long Seed { get; init; } = 1234;
}
