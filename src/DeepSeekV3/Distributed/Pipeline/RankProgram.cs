namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// What one pipeline rank runs for one optimizer step: <see cref="Steps"/> in order, then
/// <see cref="FinalExchange"/> (the last results' sends) and a wait for it.
/// </summary>
public sealed record RankProgram(int Rank, IReadOnlyList<ScheduleStep> Steps, IReadOnlyList<Transfer> FinalExchange)
{
    /// <summary>The compute ops alone, in order.</summary>
    public IEnumerable<PipelineOp> Ops => Steps.Select(s => s.Op);

    /// <summary><c>rank R: op op …</c>, the line <c>dsv3 schedule --format ops</c> prints.</summary>
    public override string ToString() => $"rank {Rank}: {string.Join(' ', Ops)}";
}
