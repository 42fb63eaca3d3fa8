namespace DeepSeekV3.Distributed;

/// <summary>
/// What <see cref="ExpertParallelCheck"/> found, maxima over all ranks of max|sharded − reference| / max|reference|
/// per tensor. Timing: seconds blocked on communication per step and bytes sent per step (means over ranks), with
/// overlap off and on, when benchmark steps were asked for.
/// </summary>
public sealed record ExpertParallelCheckResult(
    double Loss, double Logits, double DenseGradients, double ExpertGradients, int Ranks, string Layout)
{
    public double Worst => new[] { Loss, Logits, DenseGradients, ExpertGradients }.Max();

    public double? BlockedSecondsBlocking { get; init; }
    public double? BlockedSecondsOverlapped { get; init; }
    public double? StepSecondsBlocking { get; init; }
    public double? StepSecondsOverlapped { get; init; }
    public double? BytesPerStep { get; init; }

    /// <summary>1 − exposed communication with overlap / communication without it.</summary>
    public double? HiddenShare => BlockedSecondsBlocking is > 0 && BlockedSecondsOverlapped is { } overlapped
        ? 1 - overlapped / BlockedSecondsBlocking.Value
        : null;
}
