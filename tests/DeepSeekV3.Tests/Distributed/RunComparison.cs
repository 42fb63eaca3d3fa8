namespace DeepSeekV3.Tests.Distributed;

/// <summary>What the tests that compare a parallel training run with the one-process run share.</summary>
internal static class RunComparison
{
    /// <summary>fp32 reduction order only (the issues' bound).</summary>
    public const double Tolerance = 1e-5;

    public static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= Tolerance * Math.Max(1, Math.Abs(expected)),
            $"{what}: one process {expected:R}, parallel {actual:R}");

    /// <summary>Two ranks' ZeRO-1 optimizer files of a checkpoint each hold half of the moments a one-process
    /// checkpoint holds, and together all of them.</summary>
    public static void AssertHalvesOfTheOptimizerState(string twoRankCheckpoint, string oneProcessCheckpoint)
    {
        static long Elements(string file)
        {
            using var f = DeepSeekV3.Checkpoints.SafetensorsFile.Open(file);
            return f.Tensors.Where(t => t.Key.StartsWith("exp_avg.", StringComparison.Ordinal))
                .Sum(t => t.Value.Shape.Aggregate(1L, (a, b) => a * b));
        }
        long first = Elements(Path.Combine(twoRankCheckpoint, "optimizer-00001-of-00002.safetensors"));
        long second = Elements(Path.Combine(twoRankCheckpoint, "optimizer-00002-of-00002.safetensors"));
        long whole = Elements(Path.Combine(oneProcessCheckpoint, "optimizer.safetensors"));
        Assert.Equal(whole, first + second);
        Assert.InRange(first, whole / 2 - 1, whole / 2 + 1);
    }

    /// <summary>A copy of a run directory (to resume from it without touching the original).</summary>
    public static void CopyDirectory(string from, string to)
    {
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to, StringComparison.Ordinal));
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
    }
}
