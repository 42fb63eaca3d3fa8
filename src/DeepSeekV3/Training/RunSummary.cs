namespace DeepSeekV3.Training;

/// <summary>What a finished run reports. ValidationLoss is null when the run had no validation data.</summary>
public sealed record RunSummary(
    long Steps, long SkippedSteps, double FinalLoss, double? ValidationLoss, double MaxVio,
    double TokensPerSecond, double Mfu, double PeakFlops, string ModelDirectory, string MetricsFile, IReadOnlyList<string> Plots);
