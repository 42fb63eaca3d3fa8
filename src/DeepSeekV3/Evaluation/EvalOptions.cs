namespace DeepSeekV3.Evaluation;

/// <summary>How `dsv3 eval` runs a task.</summary>
public sealed record EvalOptions
{
    /// <summary>Solved examples put before each question (drawn from the task's other items).</summary>
    public int Shots { get; init; }

    /// <summary>Evaluate only the first N items (null: all).</summary>
    public int? Limit { get; init; }

    /// <summary>Sequences per forward pass (scoring) or per generation batch.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Exact match: new tokens at most per answer.</summary>
    public int MaxNewTokens { get; init; } = 32;

    /// <summary>Perplexity: tokens per scored window (documents longer than this are cut into disjoint windows).</summary>
    public int MaxLength { get; init; } = 1024;

    /// <summary>Render questions through the model's chat template (user turn, then the assistant's answer) instead
    /// of the plain "Question: …\nAnswer:" format; for chat-tuned models.</summary>
    public bool Chat { get; init; }

    /// <summary>Which items serve as few-shot examples.</summary>
    public long Seed { get; init; } = 1234;
}
