using System.Runtime.InteropServices;

namespace DeepSeekV3.IO;

/// <summary>
/// Asks Linux to back a memory-mapped file with 2 MB pages where it can (<c>madvise(MADV_HUGEPAGE)</c>): page faults
/// then read the file in 2 MB folios, which the kernel maps with one page-table entry each. Decode streams every weight
/// once per token, and with 4 KB pages a 16 GB checkpoint is four million TLB entries: on our 2-core VM, six experts'
/// weights read from a 4 KB file mapping at 26–27 GB/s and from the same file advised at 35–49 GB/s (an experiment
/// recorded in README, "Running a 16B model"). Pages the file already has cached stay as cached; elsewhere (other OSes,
/// kernels without file THP) the advice is a no-op.
/// </summary>
public static unsafe partial class HugePageAdvice
{
    private const int MadviseHugePage = 14;

    /// <summary>Advises [address, address + length); false where the OS refused or has no such advice.</summary>
    public static bool Advise(void* address, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return false;
        long page = Environment.SystemPageSize;
        long start = (long)address / page * page;   // madvise takes a page-aligned start
        return Madvise((void*)start, (nuint)((long)address + length - start), MadviseHugePage) == 0;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
