using DeepSeekV3.Inference;

namespace DeepSeekV3.Training.Distillation;

/// <summary>How <see cref="TeacherData"/> samples the teacher.</summary>
public sealed record TeacherSamplingOptions
{
    /// <summary>Completions per prompt.</summary>
    public int Samples { get; init; } = 1;

    /// <summary>Temperature, top-p, top-k and max tokens; the seed of each completion is derived from
    /// <see cref="Seed"/>, the prompt and the sample.</summary>
    public SamplingParams Sampling { get; init; } = new() { Temperature = 0.7, TopP = 0.95, MaxTokens = 64 };

    /// <summary>Keep only completions whose answer is right (GRPO's rule-based <c>AnswerReward.IsCorrect</c>);
    /// needs an <c>answer</c> on every prompt.</summary>
    public bool RewardFilter { get; init; }

    public long Seed { get; init; } = 1234;

    /// <summary>Completions per generation batch.</summary>
    public int BatchSize { get; init; } = 16;
}
