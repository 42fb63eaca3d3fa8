using System.Text;

namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// The header of a GGUF file read back: version, metadata in file order, tensor infos, and where the data section
/// starts. Enough to check what a writer produced; tensor values are read on demand with <see cref="ReadFloats"/>.
/// </summary>
public sealed class GgufFile
{
    private const uint Magic = 0x46554747;

    private GgufFile(string path, uint version, IReadOnlyDictionary<string, GgufValue> metadata,
        IReadOnlyList<string> keys, IReadOnlyList<GgufTensorInfo> tensors, long dataStart)
    {
        Path = path;
        Version = version;
        Metadata = metadata;
        Keys = keys;
        Tensors = tensors;
        DataStart = dataStart;
    }

    public string Path { get; }
    public uint Version { get; }
    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }

    /// <summary>Metadata keys in file order.</summary>
    public IReadOnlyList<string> Keys { get; }

    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Absolute file offset of the data section (aligned to general.alignment).</summary>
    public long DataStart { get; }

    public GgufTensorInfo Tensor(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name) ?? throw new GgufException(Path, $"no tensor '{name}'");

    /// <summary>Reads the header of <paramref name="path"/>. A malformed file is a <see cref="GgufException"/>.</summary>
    public static GgufFile Read(string path)
    {
        if (!File.Exists(path))
            throw new GgufException(path, "GGUF file not found");
        using var stream = File.OpenRead(path);
        using var input = new BinaryReader(stream, Encoding.UTF8);
        try
        {
            if (input.ReadUInt32() != Magic)
                throw new GgufException(path, "not a GGUF file (bad magic)");
            uint version = input.ReadUInt32();
            if (version != 3)
                throw new GgufException(path, $"expected GGUF version 3, found {version}");
            long tensorCount = checked((long)input.ReadUInt64());
            long keyCount = checked((long)input.ReadUInt64());
            var metadata = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
            var keys = new List<string>();
            for (long i = 0; i < keyCount; i++)
            {
                string key = ReadString(input);
                if (!metadata.TryAdd(key, ReadValue(input, path)))
                    throw new GgufException(path, $"metadata key '{key}' appears twice");
                keys.Add(key);
            }
            var tensors = new List<GgufTensorInfo>();
            for (long i = 0; i < tensorCount; i++)
                tensors.Add(ReadTensorInfo(input, path));
            long alignment = metadata.TryGetValue("general.alignment", out var a) ? a.AsUInt32() : GgufWriter.Alignment;
            long dataStart = (stream.Position + alignment - 1) / alignment * alignment;
            return new GgufFile(path, version, metadata, keys, tensors, dataStart);
        }
        catch (EndOfStreamException e)
        {
            throw new GgufException(path, "truncated GGUF header", e);
        }
    }

    /// <summary>The tensor's values as floats, in storage order (row-major for the PyTorch shape).</summary>
    public float[] ReadFloats(string name)
    {
        var info = Tensor(name);
        using var stream = File.OpenRead(Path);
        stream.Seek(DataStart + info.Offset, SeekOrigin.Begin);
        var bytes = new byte[info.ByteLength];
        stream.ReadExactly(bytes);
        return info.Type switch
        {
            GgufTensorType.F32 => Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, 4 * i)).ToArray(),
            GgufTensorType.F16 => Enumerable.Range(0, bytes.Length / 2).Select(i => (float)BitConverter.ToHalf(bytes, 2 * i)).ToArray(),
            GgufTensorType.Q8_0 => Q8Blocks.Dequantize(bytes),
            _ => throw new GgufException(Path, $"tensor '{name}': cannot read type {info.Type}"),
        };
    }

    private static GgufTensorInfo ReadTensorInfo(BinaryReader input, string path)
    {
        string name = ReadString(input);
        uint dims = input.ReadUInt32();
        if (dims is 0 or > 4)
            throw new GgufException(path, $"tensor '{name}': {dims} dimensions (ggml allows 1 to 4)");
        var ne = new long[dims];
        for (int d = 0; d < dims; d++)
            ne[d] = checked((long)input.ReadUInt64());
        uint type = input.ReadUInt32();
        if (!Enum.IsDefined(typeof(GgufTensorType), type))
            throw new GgufException(path, $"tensor '{name}': ggml type {type} is not one this reader handles");
        return new GgufTensorInfo(name, ne, (GgufTensorType)type, checked((long)input.ReadUInt64()));
    }

    private static string ReadString(BinaryReader input) =>
        Encoding.UTF8.GetString(input.ReadBytes(checked((int)input.ReadUInt64())));

    private static GgufValue ReadValue(BinaryReader input, string path)
    {
        var type = (GgufValueType)input.ReadUInt32();
        if (type != GgufValueType.Array)
            return GgufValue.FromFile(type, ReadScalar(input, type, path));
        var elementType = (GgufValueType)input.ReadUInt32();
        int count = checked((int)input.ReadUInt64());
        Array values = elementType switch
        {
            GgufValueType.String => ReadMany(count, () => ReadString(input)),
            GgufValueType.Int32 => ReadMany(count, input.ReadInt32),
            GgufValueType.UInt32 => ReadMany(count, input.ReadUInt32),
            GgufValueType.Float32 => ReadMany(count, input.ReadSingle),
            _ => ReadMany(count, () => ReadScalar(input, elementType, path)),
        };
        return GgufValue.FromFile(type, values, elementType);
    }

    private static T[] ReadMany<T>(int count, Func<T> read)
    {
        var values = new T[count];
        for (int i = 0; i < count; i++)
            values[i] = read();
        return values;
    }

    private static object ReadScalar(BinaryReader input, GgufValueType type, string path) => type switch
    {
        GgufValueType.UInt8 => input.ReadByte(),
        GgufValueType.Int8 => input.ReadSByte(),
        GgufValueType.UInt16 => input.ReadUInt16(),
        GgufValueType.Int16 => input.ReadInt16(),
        GgufValueType.UInt32 => input.ReadUInt32(),
        GgufValueType.Int32 => input.ReadInt32(),
        GgufValueType.Float32 => input.ReadSingle(),
        GgufValueType.Bool => input.ReadByte() != 0,
        GgufValueType.String => ReadString(input),
        GgufValueType.UInt64 => input.ReadUInt64(),
        GgufValueType.Int64 => input.ReadInt64(),
        GgufValueType.Float64 => input.ReadDouble(),
        _ => throw new GgufException(path, $"unknown metadata value type {(uint)type}"),
    };
}
