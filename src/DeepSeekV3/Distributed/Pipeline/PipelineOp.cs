namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// One compute step of a rank's pipeline program. <see cref="object.ToString"/> gives the notation of
/// <c>dsv3 schedule --format ops</c>: <c>Fa3</c>, <c>Bb1</c>, <c>Ba3z</c>, <c>W</c>, <c>[Fa3&amp;Bb1]</c>.
/// </summary>
public abstract record PipelineOp
{
    /// <summary>"a" or "b", as the op notation writes a direction.</summary>
    protected static string Letter(PipelineDirection direction) => direction == PipelineDirection.A ? "a" : "b";
}
