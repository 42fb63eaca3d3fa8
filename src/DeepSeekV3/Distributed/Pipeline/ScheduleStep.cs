namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// One step of a rank's program, run as the reference runs it (dualpipe.py <c>_commit_and_wait_comm</c>): post every
/// transfer of <paramref name="Exchange"/> at once (non-blocking sends and receives), wait until all of them complete,
/// then compute <paramref name="Op"/>. The sends of an op's results are not posted when it ends but in a later step's
/// exchange, batched with what that step receives; this pairing is what keeps neighbours from waiting on each other
/// in a cycle (tested by <see cref="PipelineSchedule.CheckExchanges"/>).
/// </summary>
public sealed record ScheduleStep(IReadOnlyList<Transfer> Exchange, PipelineOp Op);
