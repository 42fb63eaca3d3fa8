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

    /// <summary>Code: completions sampled per task (n of pass@k), with <see cref="Sampling"/>.</summary>
    public int Samples { get; init; } = 1;

    /// <summary>Code: the k of each pass@k reported (each ≤ <see cref="Samples"/>).</summary>
    public IReadOnlyList<int> PassK { get; init; } = [1];

    /// <summary>Code: how completions are sampled (temperature, top-p, top-k, max tokens); the seed of sample j of
    /// item i is derived from <see cref="Seed"/>, i and j.</summary>
    public Inference.SamplingParams Sampling { get; init; } = new() { MaxTokens = 128 };

    /// <summary>Code: wall-clock limit per program run.</summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Code: address-space limit per program run.</summary>
    public long MemoryBytes { get; init; } = 512L << 20;

    /// <summary>Which items serve as few-shot examples; code: the sampling seeds.</summary>
    public long Seed { get; init; } = 1234;
}
