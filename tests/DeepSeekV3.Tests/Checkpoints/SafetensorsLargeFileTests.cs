using System.Buffers.Binary;
using System.Text;
using DeepSeekV3.Checkpoints;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints;

/// <summary>Measures resident memory of the whole process, so it runs alone.</summary>
[Collection(SerialCollection.Name)]
public class SafetensorsLargeFileTests
{
    /// <summary>A line of /proc/self/status in bytes: VmRSS (resident now) or VmHWM (peak resident).</summary>
    private static long StatusBytes(string field)
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    /// <summary>Resets VmHWM to the current VmRSS (proc(5), /proc/pid/clear_refs, value 5; Linux 4.0+).</summary>
    private static void ResetPeakResident() => File.WriteAllText("/proc/self/clear_refs", "5");

    /// <summary>
    /// A 40 GiB U8 tensor followed by an 8-byte F32 one. Only the header and the last 8 bytes are written: the rest
    /// is a hole (SetLength), so the file costs a few KB of disk on any sparse-capable filesystem (ext4, xfs, tmpfs).
    /// </summary>
    private static void WriteSparseFile(string path, long hugeBytes)
    {
        string header = $"{{\"huge\":{{\"dtype\":\"U8\",\"shape\":[{hugeBytes}],\"data_offsets\":[0,{hugeBytes}]}}," +
                        $"\"small\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[{hugeBytes},{hugeBytes + 8}]}}}}";
        byte[] json = Encoding.UTF8.GetBytes(header);
        using var stream = new FileStream(path, FileMode.CreateNew);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
        stream.Write(prefix);
        stream.Write(json);
        stream.SetLength(8 + json.Length + hugeBytes + 8);
        stream.Seek(-8, SeekOrigin.End);
        stream.Write(BitConverter.GetBytes(1.5f));
        stream.Write(BitConverter.GetBytes(-2f));
    }

    [Fact]
    public void Small_tensor_after_a_huge_one_is_read_without_touching_the_rest()
    {
        using var dir = new TempDirectory();
        string path = dir.File("huge.safetensors");
        long hugeBytes = 40L << 30; // 40 GiB of U8: more than this machine's RAM
        long freeBefore = new DriveInfo(dir.Path).AvailableFreeSpace;
        WriteSparseFile(path, hugeBytes);
        long consumed = freeBefore - new DriveInfo(dir.Path).AvailableFreeSpace;
        // Other processes share the disk, so allow slack; a non-sparse file would be 40 GiB (and would not fit).
        Assert.True(consumed < 256L << 20, $"file was not sparse: {consumed} bytes consumed");

        // Warm up the reader's code paths (JIT, TorchSharp's native library) on the same file before measuring.
        using (var warm = SafetensorsFile.Open(path))
        using (warm.ReadTensor("small")) { }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long residentBefore = StatusBytes("VmRSS");
        ResetPeakResident();

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new[] { hugeBytes }, file.Tensors["huge"].Shape);
        using var small = file.ReadTensor("small");
        Assert.Equal(new[] { 1.5f, -2f }, small.data<float>().ToArray());

        // The peak, not the final value: file pages touched through a view leave the resident set when the view is
        // unmapped, so only the high-water mark shows a read that paged in more than the tensor. Reading 8 bytes
        // maps one or two pages; a prefetch, a checksum or a buffered read of the data section before the small
        // tensor would add hundreds of MB (or, for the whole 40 GiB, fail outright).
        long growth = StatusBytes("VmHWM") - residentBefore;
        Assert.True(growth < 16 << 20, $"peak resident memory grew by {growth / 1048576.0:F1} MiB");
    }
}
