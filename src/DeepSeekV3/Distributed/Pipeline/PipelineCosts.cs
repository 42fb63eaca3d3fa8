using System.Globalization;

namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// Time of each kind of chunk for <see cref="ScheduleSimulation"/>, in any unit: a forward
/// <paramref name="Forward"/>, a whole backward <paramref name="Backward"/>, a deferred weight-gradient step
/// <paramref name="Weight"/> (so a backward that defers it costs B − W), an overlapped forward-and-backward pair
/// <paramref name="ForwardBackward"/> (the report's F&amp;B), and <paramref name="Transfer"/> for each activation or
/// gradient sent to a neighbour.
/// </summary>
public sealed record PipelineCosts(double Forward, double Backward, double Weight, double ForwardBackward, double Transfer = 0)
{
    /// <summary>
    /// F = 1, B = 2, W = 1, F&amp;B = F + B = 3, free transfers: a backward costs twice a forward (two matrix products
    /// per forward one), half of it is weight gradients, and the pair is not faster than its parts. These are the costs
    /// under which the report's Table 2 formulas hold exactly for every rank (parallel-fp8 notes §2.8; tested).
    /// </summary>
    public static PipelineCosts Default { get; } = new(1, 2, 1, 3);

    /// <summary>A backward that leaves its weight gradients for later.</summary>
    public double InputBackward => Backward - Weight;

    public double Of(PipelineOp op) => op switch
    {
        ForwardOp => Forward,
        BackwardOp { DeferWeightGrad: true } => InputBackward,
        BackwardOp => Backward,
        WeightStepOp => Weight,
        OverlappedOp => ForwardBackward,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown pipeline op"),
    };

    /// <summary>Parses <c>F,B,W,FB</c> or <c>F,B,W,FB,T</c> (<c>dsv3 schedule --costs</c>).</summary>
    public static PipelineCosts Parse(string text)
    {
        var parts = text.Split(',');
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || values[i] < 0 || !double.IsFinite(values[i]))
                throw new InvalidArgumentException($"--costs \"{text}\": \"{parts[i]}\" is not a non-negative number");
        if (values.Length is not (4 or 5))
            throw new InvalidArgumentException($"--costs \"{text}\": expected F,B,W,FB or F,B,W,FB,T");
        var costs = new PipelineCosts(values[0], values[1], values[2], values[3], values.Length == 5 ? values[4] : 0);
        if (costs.Weight > costs.Backward)
            throw new InvalidArgumentException($"--costs \"{text}\": W = {costs.Weight} is part of B = {costs.Backward}, so W ≤ B");
        return costs;
    }

    public override string ToString() => FormattableString.Invariant(
        $"F={Forward:G4} B={Backward:G4} W={Weight:G4} F&B={ForwardBackward:G4}{(Transfer > 0 ? $" transfer={Transfer:G4}" : "")}");
}
