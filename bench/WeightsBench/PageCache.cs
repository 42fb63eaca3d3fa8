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

    /// <summary>Reads <paramref name="path"/> from start to end once, as <c>cat</c> would, so its pages are cached.</summary>
    public static void ReadThrough(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        var buffer = new byte[1 << 20];
        while (stream.Read(buffer) > 0) { }
    }

    private const int FadviseDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Fadvise(int fd, long offset, long length, int advice);
}
