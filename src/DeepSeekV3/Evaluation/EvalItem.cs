namespace DeepSeekV3.Evaluation;

/// <summary>One line of a task file. <see cref="Text"/> for perplexity; <see cref="Question"/> with
/// <see cref="Choices"/> and the index <see cref="Answer"/> for multiple choice; <see cref="Question"/> with the
/// answer text <see cref="Reference"/> (e.g. "3 + 4 = 7 #### 7") for exact match; <see cref="Code"/> for pass@k.</summary>
public sealed record EvalItem(long Line, string Text = "", string Question = "", IReadOnlyList<string>? Choices = null,
    int Answer = -1, string Reference = "", CodeTask? Code = null);
