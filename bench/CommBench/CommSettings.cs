namespace DeepSeekV3.Bench;

/// <param name="Iterations">Timed operations per repeat; a repeat reports their median.</param>
/// <param name="Repeats">Repeats per size and operation; their medians give the reported median and min–max range.</param>
/// <param name="MaxBytes">Largest message (bytes per rank).</param>
internal sealed record CommSettings(int Iterations, int Repeats, long MaxBytes)
{
    /// <summary>4 KB, 16 KB, ... up to MaxBytes: powers of 4.</summary>
    public IEnumerable<long> Sizes()
    {
        for (long bytes = 4096; bytes <= MaxBytes; bytes *= 4)
            yield return bytes;
    }
}

/// <summary>One operation at one size: median seconds per operation over the repeats, and the repeats' min and max.</summary>
internal sealed record Measurement(string Op, long Bytes, double Seconds, double MinSeconds, double MaxSeconds, double AlgGBps,
    double AlgGBpsMin, double AlgGBpsMax, double? BusGBps);
