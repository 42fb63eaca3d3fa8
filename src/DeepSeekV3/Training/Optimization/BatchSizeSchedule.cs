namespace DeepSeekV3.Training.Optimization;

/// <summary>
/// Batch size in sequences per optimizer step, ramped linearly from StartSequences to FinalSequences over RampSteps
/// (report §4.2: 3072 → 15360 over the first 469B of 14.8T tokens), then constant.
/// </summary>
public sealed record BatchSizeSchedule(int StartSequences, int FinalSequences, int RampSteps)
{
    public static BatchSizeSchedule Constant(int sequences) => new(sequences, sequences, 0);

    /// <summary>The report's ratio (start = final/5) over the report's share of the run (469B/14.8T).</summary>
    public static BatchSizeSchedule ReportShaped(int finalSequences, int totalSteps) =>
        new(Math.Max(1, finalSequences / 5), finalSequences, (int)Math.Round(totalSteps * 0.469 / 14.8));

    public int At(long step)
    {
        if (step >= RampSteps || RampSteps == 0) return FinalSequences;
        double value = StartSequences + (FinalSequences - StartSequences) * (double)step / RampSteps;
        return Math.Max(1, (int)Math.Round(value));
    }
}
