namespace DeepSeekV3.Bench;

/// <summary>This process's resident memory from /proc/self/status: VmRSS now and VmHWM (the peak so far), in bytes.
/// Memory-mapped weight pages count once they are touched.</summary>
internal static class ProcessMemory
{
    public static long ResidentBytes() => Read("VmRSS:");

    public static long PeakResidentBytes() => Read("VmHWM:");

    private static long Read(string key)
    {
        if (!File.Exists("/proc/self/status"))
            return -1;
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
