using System.Runtime.InteropServices;

namespace DeepSeekV3.Bench;

/// <summary>The page cache around a mapped checkpoint, for --part mapping (Linux).</summary>
internal static unsafe partial class PageCache
{
    /// <summary>Drops <paramref name="path"/>'s clean cached pages (posix_fadvise DONTNEED), so the next read comes from disk.</summary>
    public static void Evict(string path)
    {
        using var handle = File.OpenHandle(path);
        int code = Fadvise((int)handle.DangerousGetHandle(), 0, 0, FadviseDontNeed);
        if (code != 0) throw new IOException($"posix_fadvise(DONTNEED) on {path} failed with {code}");
    }

    /// <summary>Bytes of file pages this process maps with 2 MB entries (FilePmdMapped in /proc/self/smaps_rollup).</summary>
    public static long FilePmdMappedBytes()
    {
        string line = File.ReadLines("/proc/self/smaps_rollup").First(l => l.StartsWith("FilePmdMapped:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    private const int FadviseDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Fadvise(int fd, long offset, long length, int advice);
}
