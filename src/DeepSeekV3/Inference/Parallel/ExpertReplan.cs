using DeepSeekV3.Inference.Eplb;

namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// One re-plan of expert-parallel inference: after <see cref="DecodeSteps"/> decode steps, the window's loads gave
/// <see cref="Before"/> (measured under the old placement), EPLB (<see cref="Policy"/>) planned a placement predicted
/// to give <see cref="After"/> on the same loads, and <see cref="ExpertsMoved"/> experts' weights
/// (<see cref="BytesMoved"/> bytes) went to their new ranks in <see cref="Seconds"/> (planning and moving).
/// </summary>
public sealed record ExpertReplan(long DecodeSteps, EplbPolicy Policy, ExpertBalance Before, ExpertBalance After,
    int ExpertsMoved, long BytesMoved, double Seconds)
{
    public override string ToString() =>
        $"re-plan after {DecodeSteps} decode steps ({Policy.ToString().ToLowerInvariant()}, {Before.Pairs} pairs): " +
        $"balancedness {Before.Balancedness:F3} → {After.Balancedness:F3}; rank loads [{Loads(Before)}] → [{Loads(After)}]; " +
        $"moved {ExpertsMoved} experts ({BytesMoved / 1024.0:F0} KiB) in {Seconds * 1000:F0} ms";

    private static string Loads(ExpertBalance balance) =>
        string.Join(", ", balance.RankLoads.Select(l => l.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)));
}
