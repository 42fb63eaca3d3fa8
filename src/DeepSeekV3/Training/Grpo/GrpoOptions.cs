namespace DeepSeekV3.Training.Grpo;

/// <summary>A GRPO run's settings (`dsv3 grpo`).</summary>
public sealed record GrpoOptions
{
    public required string ModelDirectory { get; init; }
    public required string TaskPath { get; init; }
    public required string OutputDirectory { get; init; }

    public int Steps { get; init; } = 100;

    /// <summary>Prompts per step; each gets <see cref="Group"/> completions.</summary>
    public int PromptsPerStep { get; init; } = 8;

    /// <summary>G: completions sampled per prompt.</summary>
    public int Group { get; init; } = 8;

    /// <summary>ε of the clipped ratio.</summary>
    public double Clip { get; init; } = 0.2;

    /// <summary>β of the KL penalty to the reference model.</summary>
    public double Beta { get; init; } = 0.04;

    public double Temperature { get; init; } = 1.0;
    public int MaxNewTokens { get; init; } = 8;

    /// <summary>μ: policy updates per batch of sampled completions (1: π_old = π_θ, the ratio is 1 in value).</summary>
    public int Iterations { get; init; } = 1;

    public double LearningRate { get; init; } = 1e-5;
    public int WarmupSteps { get; init; } = 5;
    public double GradientClip { get; init; } = 1.0;
    public double FormatReward { get; init; } = 0.2;

    /// <summary>Completions per forward/backward.</summary>
    public int MicroBatch { get; init; } = 32;

    public long Seed { get; init; }
    public int SaveEvery { get; init; }
    public int KeepLast { get; init; } = 2;
    public bool Resume { get; init; }
}
