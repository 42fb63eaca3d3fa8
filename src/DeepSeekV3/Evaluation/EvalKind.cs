namespace DeepSeekV3.Evaluation;

/// <summary>What an evaluation task measures (the <c>--kind</c> of `dsv3 eval`).</summary>
public enum EvalKind
{
    /// <summary>Perplexity and bits per byte on text: lines <c>{"text": …}</c>.</summary>
    Perplexity,

    /// <summary>Multiple choice by log-likelihood: <c>{"question", "choices", "answer": index}</c>.</summary>
    Choice,

    /// <summary>Generative exact match, GSM8K style: <c>{"question", "answer"}</c>, the answer extracted from the text.</summary>
    ExactMatch,

    /// <summary>pass@k of sampled Python completions run against tests: HumanEval's
    /// <c>{"task_id", "prompt", "test", "entry_point"}</c>.</summary>
    Code,
}
