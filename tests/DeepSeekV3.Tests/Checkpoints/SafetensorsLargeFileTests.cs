using System.Buffers.Binary;
using System.Text;
using DeepSeekV3.Checkpoints;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints;

public class SafetensorsLargeFileTests
{
    [Fact]
    public void Small_tensor_after_a_huge_one_is_read_without_touching_the_rest()
    {
        using var dir = new TempDirectory();
        string path = dir.File("huge.safetensors");
        long hugeBytes = 40L << 30; // 40 GiB of U8: more than this machine's RAM
        long freeBefore = new DriveInfo(dir.Path).AvailableFreeSpace;
        if (freeBefore < 2 * hugeBytes)
            hugeBytes = 1L << 30; // fall back to a size the disk can hold even if the file is not sparse

        string header = $"{{\"huge\":{{\"dtype\":\"U8\",\"shape\":[{hugeBytes}],\"data_offsets\":[0,{hugeBytes}]}}," +
                        $"\"small\":{{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[{hugeBytes},{hugeBytes + 8}]}}}}";
        byte[] json = Encoding.UTF8.GetBytes(header);
        using (var stream = new FileStream(path, FileMode.CreateNew))
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)json.Length);
            stream.Write(prefix);
            stream.Write(json);
            // SetLength extends with a hole: no blocks are allocated for the huge tensor on sparse-capable filesystems.
            stream.SetLength(8 + json.Length + hugeBytes + 8);
            stream.Seek(0, SeekOrigin.End);
            stream.Seek(-8, SeekOrigin.Current);
            stream.Write(BitConverter.GetBytes(1.5f));
            stream.Write(BitConverter.GetBytes(-2f));
        }
        long consumed = freeBefore - new DriveInfo(dir.Path).AvailableFreeSpace;
        Assert.True(hugeBytes < (40L << 30) || consumed < hugeBytes / 2, $"file was not sparse: {consumed} bytes consumed");

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new[] { hugeBytes }, file.Tensors["huge"].Shape);
        using var small = file.ReadTensor("small");
        Assert.Equal(new[] { 1.5f, -2f }, small.data<float>().ToArray());
    }
}
