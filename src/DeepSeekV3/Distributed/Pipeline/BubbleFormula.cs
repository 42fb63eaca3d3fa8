namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// One row of the report's Table 2 (DualPipe README's table for DualPipeV) evaluated for a pipeline of
/// <c>PP</c> stages: the bubble formula and its value, copies of the model's parameters across the pipeline, and
/// peak activations in micro-batches of one stage.
/// </summary>
public sealed record BubbleFormula(string Method, string Bubble, double Value, int ParameterCopies, string Activations, int ActivationValue);
