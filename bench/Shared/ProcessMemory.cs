namespace DeepSeekV3.Bench;

/// <summary>This process's memory from /proc (Linux; -1 elsewhere), in bytes: resident now (VmRSS) and at its peak
/// (VmHWM) from /proc/self/status, and the file pages mapped with 2 MB entries (FilePmdMapped of
/// /proc/self/smaps_rollup). Memory-mapped weight pages count once they are touched.</summary>
internal static class ProcessMemory
{
    public static long ResidentBytes() => Read("/proc/self/status", "VmRSS:");

    public static long PeakResidentBytes() => Read("/proc/self/status", "VmHWM:");

    public static long FileHugePageBytes() => Read("/proc/self/smaps_rollup", "FilePmdMapped:");

    /// <summary>The "key: N kB" line of <paramref name="file"/>, in bytes.</summary>
    private static long Read(string file, string key)
    {
        if (!File.Exists(file))
            return -1;
        string? line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
