namespace DeepSeekV3.Training.Data;

/// <summary>How far tokenization has come: bytes of input read of the total, tokens written, time spent.</summary>
public sealed record TokenizationProgress(long BytesRead, long BytesTotal, long Tokens, TimeSpan Elapsed)
{
    public double MegabytesPerSecond => Elapsed.TotalSeconds > 0 ? BytesRead / 1e6 / Elapsed.TotalSeconds : 0;
}
