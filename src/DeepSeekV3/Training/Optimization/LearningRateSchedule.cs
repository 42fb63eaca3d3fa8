namespace DeepSeekV3.Training.Optimization;

/// <summary>
/// The report's learning-rate shape (§4.2), in optimizer steps: linear warm-up 0 → Peak over WarmupSteps; constant
/// Peak until ConstantEnd; cosine decay Peak → DecayedLr until DecayEnd; then DecayedLr until TailStart; then TailLr.
/// Report values: 2.2e-4, 2K warm-up steps, constant to 10T tokens, cosine to 2.2e-5 over 4.3T, 2.2e-5 for 333B,
/// 7.3e-6 for the last 167B.
/// </summary>
public sealed record LearningRateSchedule(
    double Peak, int WarmupSteps, int ConstantEnd, int DecayEnd, double DecayedLr, int TailStart, double TailLr)
{
    /// <summary>The report's proportions scaled to <paramref name="totalSteps"/> (14.8T tokens ↦ totalSteps):
    /// constant until 10/14.8, cosine to Peak/10 until 14.3/14.8, Peak/10 until 14.633/14.8, then Peak·7.3/220.</summary>
    public static LearningRateSchedule ReportShaped(double peak, int totalSteps, int? warmupSteps = null)
    {
        int warmup = warmupSteps ?? Math.Min(2000, Math.Max(1, totalSteps / 20));
        int At(double tokensT) => Math.Max(warmup, (int)Math.Round(totalSteps * tokensT / 14.8));
        return new LearningRateSchedule(peak, warmup, At(10.0), At(14.3), peak / 10, At(14.633), peak * 7.3 / 220);
    }

    /// <summary>Linear warm-up to <paramref name="peak"/>, then cosine decay to <paramref name="final"/> at the last
    /// step: the shape of the report's SFT (§5.1: 5e-6 → 1e-6 over 2 epochs).</summary>
    public static LearningRateSchedule Cosine(double peak, double final, int totalSteps, int warmupSteps) =>
        new(peak, warmupSteps, warmupSteps, Math.Max(warmupSteps, totalSteps), final, Math.Max(warmupSteps, totalSteps), final);

    /// <summary>Learning rate for the update that completes step <paramref name="step"/> + 1 (0-based step).</summary>
    public double At(long step)
    {
        if (step < WarmupSteps)
            return Peak * (step + 1) / WarmupSteps;                                          // ends exactly at Peak
        if (step < ConstantEnd)
            return Peak;
        if (step < DecayEnd)
        {
            double progress = (double)(step - ConstantEnd) / (DecayEnd - ConstantEnd);       // [0, 1)
            return DecayedLr + 0.5 * (Peak - DecayedLr) * (1 + Math.Cos(Math.PI * progress));
        }
        return step < TailStart ? DecayedLr : TailLr;
    }
}
