using System.Buffers.Binary;
using System.Text;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Precision;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints;

public class SafetensorsRoundTripTests
{
    [Theory]
    [InlineData(SafetensorsDType.BOOL)]
    [InlineData(SafetensorsDType.U8)]
    [InlineData(SafetensorsDType.I8)]
    [InlineData(SafetensorsDType.I16)]
    [InlineData(SafetensorsDType.U16)]
    [InlineData(SafetensorsDType.I32)]
    [InlineData(SafetensorsDType.U32)]
    [InlineData(SafetensorsDType.I64)]
    [InlineData(SafetensorsDType.U64)]
    [InlineData(SafetensorsDType.F16)]
    [InlineData(SafetensorsDType.BF16)]
    [InlineData(SafetensorsDType.F32)]
    [InlineData(SafetensorsDType.F64)]
    [InlineData(SafetensorsDType.F8_E4M3)]
    [InlineData(SafetensorsDType.F8_E5M2)]
    public void Every_dtype_round_trips_with_identical_bytes(SafetensorsDType dtype)
    {
        using var dir = new TempDirectory();
        using var original = SampleTensor(dtype, 3, 5);
        SafetensorsWriter.Write(dir.File("t.safetensors"), new[] { ("x", original) });

        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        Assert.Equal(dtype, file.Tensors["x"].DType);
        using var read = file.ReadTensor("x");
        Assert.Equal(dtype.ToScalarType(), read.dtype);
        Assert.Equal(new long[] { 3, 5 }, read.shape);
        Assert.Equal(original.bytes.ToArray(), read.bytes.ToArray());
        Assert.Equal(dtype, SafetensorsDTypes.FromScalarType(dtype.ToScalarType()));
    }

    [Fact]
    public void Bf16_and_fp8_bytes_on_disk_are_the_expected_encodings()
    {
        using var dir = new TempDirectory();
        // bf16(1.5) = 0x3FC0, bf16(-2) = 0xC000; E4M3(1.0) = 0x38, E4M3(-448) = 0xFE
        // (by hand, docs/reference-notes.md#e4m3-bytes).
        using var bf16 = tensor(new float[] { 1.5f, -2f }).to_type(ScalarType.BFloat16);
        using var fp8 = tensor(new float[] { 1f, -448f }).to_type(Float8E4M3.TorchType);
        string path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new[] { ("a", bf16), ("b", fp8) });

        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0xC0, 0x3F, 0x00, 0xC0, 0x38, 0xFE }, bytes[^6..]);
        using var file = SafetensorsFile.Open(path);
        using var b = file.ReadTensor("b");
        Assert.Equal(new byte[] { 0x38, 0xFE }, b.bytes.ToArray());
    }

    [Fact]
    public void Save_load_save_gives_byte_identical_files_and_keeps_order_and_metadata()
    {
        using var dir = new TempDirectory();
        using var a = randn(4, 3, generator: new Generator(1));
        using var b = arange(7, dtype: ScalarType.Int64);
        using var c = tensor(2.5f); // scalar: shape []
        using var d = zeros(0, 4);  // empty
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode" };
        SafetensorsWriter.Write(dir.File("1.safetensors"), new[] { ("z.last", a), ("a.first", b), ("scalar", c), ("empty", d) }, metadata);

        using (var file = SafetensorsFile.Open(dir.File("1.safetensors")))
        {
            Assert.Equal(new[] { "z.last", "a.first", "scalar", "empty" }, file.TensorsInFileOrder.Select(t => t.Name));
            Assert.Equal(metadata, file.Metadata);
            Assert.Empty(file.Tensors["scalar"].Shape);
            var reread = file.TensorsInFileOrder.Select(t => (t.Name, file.ReadTensor(t.Name))).ToList();
            SafetensorsWriter.Write(dir.File("2.safetensors"), reread, file.Metadata);
            reread.ForEach(t => t.Item2.Dispose());
        }
        Assert.Equal(File.ReadAllBytes(dir.File("1.safetensors")), File.ReadAllBytes(dir.File("2.safetensors")));
    }

    [Fact]
    public void Header_is_padded_with_spaces_to_8_byte_alignment()
    {
        using var dir = new TempDirectory();
        foreach (string name in new[] { "a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh" })
        {
            using var t = ones(3);
            string path = dir.File(name + ".safetensors");
            SafetensorsWriter.Write(path, new[] { (name, t) });
            byte[] bytes = File.ReadAllBytes(path);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0UL, headerLength % 8);
            Assert.Equal(8 + (long)headerLength + 12, bytes.Length);
            string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
            Assert.Equal(header.TrimEnd(' ').Length, header.TrimEnd(' ').TrimEnd('}').Length + 2); // ends with "}}" then spaces
        }
    }

    [Fact]
    public void Non_contiguous_input_is_written_in_logical_order()
    {
        using var dir = new TempDirectory();
        using var m = arange(6, dtype: ScalarType.Float32).reshape(2, 3);
        using var transposed = m.t(); // [3, 2], strided view
        SafetensorsWriter.Write(dir.File("t.safetensors"), new[] { ("t", transposed) });
        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        using var read = file.ReadTensor("t");
        Assert.Equal(new float[] { 0, 3, 1, 4, 2, 5 }, read.data<float>().ToArray());
    }

    [Fact]
    public void Duplicate_tensor_names_are_rejected_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        using var t = ones(1);
        var ex = Assert.Throws<CheckpointFormatException>(() =>
            SafetensorsWriter.Write(dir.File("t.safetensors"), new[] { ("w", t), ("w", t) }));
        Assert.Equal("w", ex.TensorName);
        Assert.Empty(Directory.EnumerateFiles(dir.Path));
    }

    [Fact]
    public void Reading_an_unknown_tensor_names_the_file()
    {
        using var dir = new TempDirectory();
        using var t = ones(1);
        SafetensorsWriter.Write(dir.File("t.safetensors"), new[] { ("w", t) });
        using var file = SafetensorsFile.Open(dir.File("t.safetensors"));
        var ex = Assert.Throws<TensorNotFoundException>(() => file.ReadTensor("nope"));
        Assert.Contains(dir.File("t.safetensors"), ex.Message);
        Assert.Contains("nope", ex.Message);
    }

    /// <summary>Deterministic values that exercise each dtype's range, built through float64 then cast.</summary>
    internal static Tensor SampleTensor(SafetensorsDType dtype, long rows, long cols)
    {
        using var scope = NewDisposeScope();
        var values = (arange(rows * cols, dtype: ScalarType.Float64) * 0.75 - 3).reshape(rows, cols);
        var type = dtype.ToScalarType();
        bool unsigned = dtype is SafetensorsDType.U8 or SafetensorsDType.U16 or SafetensorsDType.U32 or SafetensorsDType.U64;
        var source = dtype == SafetensorsDType.BOOL ? values.gt(0) : unsigned ? values.abs() : values;
        return source.to_type(type).MoveToOuterDisposeScope();
    }
}
