using System.Runtime.InteropServices;

namespace DeepSeekV3.Kernels;

/// <summary>
/// The calling thread's OpenMP thread count (LibTorch's intra-op threads on Linux, libgomp): a per-thread setting, so
/// several of our own threads can each run LibTorch ops single-threaded side by side without touching the process-wide
/// <c>torch.set_num_threads</c>. Two threads each running their own GEMM that way kept ~150 GFLOP/s (bf16) on a loaded
/// 2-core machine where one GEMM on two OpenMP threads fell to 13–56 (its barriers wait for preempted threads).
/// Null where LibTorch's libgomp is not loaded in this process.
/// </summary>
internal sealed unsafe class OpenMpThreads
{
    private readonly delegate* unmanaged<int, void> _set;
    private readonly delegate* unmanaged<int> _get;

    private OpenMpThreads(nint library)
    {
        _set = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(library, "omp_set_num_threads");
        _get = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "omp_get_max_threads");
    }

    /// <summary>The libgomp LibTorch loaded (found in /proc/self/maps), or null.</summary>
    public static OpenMpThreads? Find()
    {
        const string maps = "/proc/self/maps";
        if (!OperatingSystem.IsLinux() || !File.Exists(maps)) return null;
        string? path = File.ReadLines(maps).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6).Select(fields => fields[^1])
            .FirstOrDefault(p => Path.GetFileName(p).StartsWith("libgomp", StringComparison.Ordinal));
        return path is not null && NativeLibrary.TryLoad(path, out var library)
               && NativeLibrary.TryGetExport(library, "omp_set_num_threads", out _)
               && NativeLibrary.TryGetExport(library, "omp_get_max_threads", out _)
            ? new OpenMpThreads(library)
            : null;
    }

    /// <summary>Runs <paramref name="action"/> with this thread's OpenMP threads at one, then restores them.</summary>
    public void Single(Action action)
    {
        int saved = _get();
        _set(1);
        try
        {
            action();
        }
        finally
        {
            _set(saved);
        }
    }
}
