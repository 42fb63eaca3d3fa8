using System.Runtime.InteropServices;

namespace DeepSeekV3.IO;

/// <summary>
/// Asks Linux to back a memory-mapped file with 2 MB pages where it can (<c>madvise(MADV_HUGEPAGE)</c>): page faults
/// then read the file in 2 MB folios, which the kernel maps with one page-table entry each. Decode streams every weight
/// once per token, and with 4 KB pages a 16 GB checkpoint is four million of them. Without the advice, a decoder that
/// faults its experts in as routing picks them (random access) gets small folios: on our VM the 16B V2-Lite-shaped
/// model then decoded at 11.2–14.2 tokens/s with 0.4 GB mapped in 2 MB entries, and at 15.7–17.3 with 5.9 GB advised
/// (bench/WeightsBench --part mapping, README "A 16B DeepSeek on one CPU box"). Pages the file already has cached stay
/// as they are; elsewhere (other OSes, file systems without large folios) the advice is a no-op.
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
