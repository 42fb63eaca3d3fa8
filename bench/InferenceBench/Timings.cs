namespace DeepSeekV3.Bench;

/// <summary>One engine's measurements: prefill seconds per repeat and decode seconds per step (all repeats).</summary>
internal sealed record Timings(string Engine, IReadOnlyList<double> PrefillSeconds, IReadOnlyList<double> DecodeStepSeconds)
{
    public double PrefillTokensPerSecond(int promptLength) => promptLength / Median(PrefillSeconds);

    public double DecodeMillisecondsP50 => 1000 * Median(DecodeStepSeconds);

    public double DecodeTokensPerSecond => 1 / Median(DecodeStepSeconds);

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
