namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// One rank's simulated step: its ops' times, <see cref="Busy"/> (time computing), <see cref="Idle"/> (the rest of
/// the step's makespan: the rank's bubble), and <see cref="PeakActivations"/>, the most micro-batches whose forward
/// has started and whose backward has not finished, summed over the rank's stage copies (a backward that defers its
/// weight gradients counts as finished).
/// </summary>
public sealed record RankTimeline(int Rank, IReadOnlyList<OpTiming> Ops, double Busy, double Idle, int PeakActivations);
