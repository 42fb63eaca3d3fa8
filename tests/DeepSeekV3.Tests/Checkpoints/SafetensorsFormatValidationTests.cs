using System.Buffers.Binary;
using System.Text;
using DeepSeekV3.Checkpoints;

namespace DeepSeekV3.Tests.Checkpoints;

/// <summary>Each malformed file is built byte by byte here, independent of our writer.</summary>
public class SafetensorsFormatValidationTests
{
    [Fact]
    public void File_shorter_than_8_bytes_is_rejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("short.safetensors");
        File.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        var ex = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path));
        Assert.Equal(path, ex.FilePath);
        Assert.Contains(path, ex.Message);
        Assert.Contains("3 bytes", ex.Message);
    }

    [Fact]
    public void Header_length_beyond_the_file_is_rejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("long.safetensors");
        var bytes = new byte[8 + 4];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path));
        Assert.Contains("1000", ex.Message);
        Assert.Contains("at most 4", ex.Message);
    }

    [Fact]
    public void Absurd_header_length_is_rejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File("absurd.safetensors");
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        File.WriteAllBytes(path, bytes);
        Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path));
    }

    [Theory]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], ", null, "not valid JSON")]
    [InlineData("[1, 2]", null, "expected a JSON object")]
    [InlineData("{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", "w", "missing \"dtype\"")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", "w", "missing \"shape\"")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", "w", "missing \"data_offsets\"")]
    [InlineData("{\"w\": {\"dtype\": \"F31\", \"shape\": [1], \"data_offsets\": [0, 4]}}", "w", "unknown dtype \"F31\"")]
    [InlineData("{\"w\": {\"dtype\": \"0\", \"shape\": [1], \"data_offsets\": [0, 4]}}", "w", "unknown dtype")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "w", "non-negative integer, found -1")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}", "w", "expected 8 (F32 [2]), found 4")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", "w", "out of range")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", "w", "out of range")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", "w", "expected [begin, end]")]
    [InlineData("{\"a\": {\"dtype\": \"I16\", \"shape\": [2], \"data_offsets\": [0, 4]}, \"b\": {\"dtype\": \"I16\", \"shape\": [1], \"data_offsets\": [2, 4]}}", "b", "overlap tensor 'a'")]
    [InlineData("{\"w\": {\"dtype\": \"I16\", \"shape\": [1], \"data_offsets\": [2, 4]}}", "w", "hole")]
    [InlineData("{\"w\": {\"dtype\": \"I16\", \"shape\": [1], \"data_offsets\": [0, 2]}}", "w", "cover 2 bytes of the data section, expected all 4")]
    [InlineData("{\"__metadata__\": {\"format\": 1}, \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", null, "__metadata__.format: expected a string")]
    [InlineData("{\"__metadata__\": [\"pt\"], \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", null, "__metadata__: expected an object")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, \"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", "w", "listed twice")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 4]}}", "w", "overflows")]
    public void Malformed_header_is_rejected_naming_file_and_tensor(string header, string? tensor, string expectedText)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        WriteRaw(path, header, dataBytes: 4);
        var ex = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path));
        Assert.Equal(path, ex.FilePath);
        Assert.Equal(tensor, ex.TensorName);
        Assert.StartsWith(path, ex.Message);
        if (tensor is not null)
            Assert.Contains($"'{tensor}'", ex.Message);
        Assert.Contains(expectedText, ex.Message);
    }

    [Fact]
    public void Hand_built_valid_file_reads_back()
    {
        using var dir = new TempDirectory();
        string path = dir.File("good.safetensors");
        // I16 [2] = {1, -1} little-endian, then F32 scalar 1.0 = 0x3F800000.
        WriteRaw(path, "{\"a\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]},\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}",
            data: new byte[] { 1, 0, 0xFF, 0xFF, 0, 0, 0x80, 0x3F });
        using var file = SafetensorsFile.Open(path);
        using var a = file.ReadTensor("a");
        using var s = file.ReadTensor("s");
        Assert.Equal(new short[] { 1, -1 }, a.data<short>().ToArray());
        Assert.Equal(1f, s.item<float>());
    }

    /// <summary>[u64 LE header length][header UTF-8][data]; no padding so odd layouts are possible too.</summary>
    internal static void WriteRaw(string path, string header, int dataBytes = 0, byte[]? data = null)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        data ??= new byte[dataBytes];
        var bytes = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + json.Length);
        File.WriteAllBytes(path, bytes);
    }
}
