namespace DeepSeekV3.Bench;

/// <summary>How much of the files this process maps is mapped with 2 MB page-table entries (Linux; -1 elsewhere).</summary>
internal static class FileHugePages
{
    /// <summary>FilePmdMapped of /proc/self/smaps_rollup, in bytes.</summary>
    public static long MappedBytes()
    {
        const string rollup = "/proc/self/smaps_rollup";
        if (!File.Exists(rollup)) return -1;
        string? line = File.ReadLines(rollup).FirstOrDefault(l => l.StartsWith("FilePmdMapped:", StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
