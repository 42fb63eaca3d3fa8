namespace DeepSeekV3.Training.Mtp;

/// <summary>How <see cref="MtpSelfDistillation"/> trains the MTP modules against the frozen main model.</summary>
public sealed record MtpTuneOptions
{
    public int Steps { get; init; } = 200;

    /// <summary>Windows (sequences of T + 1 tokens) per step.</summary>
    public int BatchSequences { get; init; } = 8;

    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Linear warm-up steps, then constant.</summary>
    public int Warmup { get; init; } = 10;

    /// <summary>False: cross-entropy to the main model's greedy (argmax) prediction, what greedy verification
    /// accepts. True: KL(main ‖ MTP) to the main model's whole next-token distribution, what speculative sampling's
    /// acceptance min(1, p/q) rewards.</summary>
    public bool SoftTargets { get; init; }

    /// <summary>Orders the windows.</summary>
    public long Seed { get; init; } = 1234;
}
