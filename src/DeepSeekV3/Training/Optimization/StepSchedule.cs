namespace DeepSeekV3.Training.Optimization;

/// <summary>
/// A value that is piecewise constant in steps: Values[0] before Boundaries[0], Values[1] until Boundaries[1], …
/// The report's MTP weight λ (0.3 then 0.1) and bias update speed γ (0.001 then 0) have this shape.
/// </summary>
public sealed record StepSchedule(IReadOnlyList<double> Values, IReadOnlyList<int> Boundaries)
{
    public static StepSchedule Constant(double value) => new([value], []);

    /// <summary><paramref name="first"/> until <paramref name="fraction"/> of <paramref name="totalSteps"/>, then
    /// <paramref name="then"/>.</summary>
    public static StepSchedule Switch(double first, double then, double fraction, int totalSteps) =>
        new([first, then], [(int)Math.Round(totalSteps * fraction)]);

    public double At(long step)
    {
        int i = 0;
        while (i < Boundaries.Count && step >= Boundaries[i]) i++;
        return Values[Math.Min(i, Values.Count - 1)];
    }
}
