using System.Text;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// Writes a GGUF v3 file: magic "GGUF", version 3, tensor and metadata counts, typed metadata key/values, tensor
/// infos (name, ggml <c>ne</c>, type, offset), then the tensor data, each tensor starting at a multiple of
/// <see cref="Alignment"/>. All numbers little-endian. Tensors are produced one at a time while writing, so a
/// multi-GB model never has to sit in memory at once.
/// </summary>
public sealed class GgufWriter
{
    /// <summary>general.alignment's default; llama.cpp assumes it when the key is absent.</summary>
    public const int Alignment = 32;

    private const uint Magic = 0x46554747;  // "GGUF" read as a little-endian uint32
    private const uint Version = 3;

    private readonly List<(string Key, GgufValue Value)> _metadata = [];
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    private sealed record PendingTensor(string Name, long[] Shape, GgufTensorType Type, Func<Tensor> Produce);

    public void Add(string key, GgufValue value)
    {
        if (!_keys.Add(key))
            throw new ArgumentException($"metadata key '{key}' added twice", nameof(key));
        _metadata.Add((key, value));
    }

    /// <summary>
    /// Adds a tensor of PyTorch shape <paramref name="shape"/> (row-major, e.g. [out, in]); it is stored with ne =
    /// shape reversed. <paramref name="produce"/> is called once, during <see cref="WriteTo"/>, and must return a
    /// tensor of exactly that shape (any float dtype, any device); the writer disposes it.
    /// </summary>
    public void AddTensor(string name, long[] shape, GgufTensorType type, Func<Tensor> produce)
    {
        if (!type.Fits(shape[^1]))
            throw new ArgumentException($"tensor '{name}': rows of {shape[^1]} values cannot be stored as {type}", nameof(type));
        if (!_tensorNames.Add(name))
            throw new ArgumentException($"tensor '{name}' added twice", nameof(name));
        _tensors.Add(new PendingTensor(name, shape.ToArray(), type, produce));
    }

    public void WriteTo(Stream stream)
    {
        using var output = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        output.Write(Magic);
        output.Write(Version);
        output.Write((ulong)_tensors.Count);
        output.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(output, key);
            WriteValue(output, value);
        }

        long offset = 0;
        foreach (var tensor in _tensors)
        {
            WriteString(output, tensor.Name);
            output.Write((uint)tensor.Shape.Length);
            foreach (long ne in tensor.Shape.Reverse())
                output.Write((ulong)ne);
            output.Write((uint)tensor.Type);
            output.Write((ulong)offset);
            offset = AlignUp(offset + tensor.Type.ByteLength(tensor.Shape.Aggregate(1L, (n, d) => n * d)));
        }
        output.Flush();
        Pad(stream, stream.Position);

        long dataStart = stream.Position;
        foreach (var tensor in _tensors)
        {
            WriteTensorData(stream, tensor);
            Pad(stream, stream.Position - dataStart);
        }
    }

    private static void WriteTensorData(Stream stream, PendingTensor pending)
    {
        using var scope = NewDisposeScope();
        var value = pending.Produce();
        if (!value.shape.SequenceEqual(pending.Shape))
            throw new InvalidOperationException(
                $"tensor '{pending.Name}': declared shape [{string.Join(", ", pending.Shape)}], produced [{string.Join(", ", value.shape)}]");
        if (pending.Type == GgufTensorType.Q8_0)
        {
            float[] values = value.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            byte[] blocks = new byte[pending.Type.ByteLength(values.Length)];
            Q8Blocks.Quantize(values, blocks);
            stream.Write(blocks);
            return;
        }
        var stored = value.to(pending.Type == GgufTensorType.F16 ? ScalarType.Float16 : ScalarType.Float32);
        TensorBytes.WriteTo(stored, stream, pending.Type == GgufTensorType.F16 ? 2 : 4);
    }

    private static long AlignUp(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream stream, long written)
    {
        long padding = AlignUp(written) - written;
        for (long i = 0; i < padding; i++)
            stream.WriteByte(0);
    }

    private static void WriteString(BinaryWriter output, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        output.Write((ulong)bytes.Length);
        output.Write(bytes);
    }

    private static void WriteValue(BinaryWriter output, GgufValue value)
    {
        output.Write((uint)value.Type);
        if (value.Type != GgufValueType.Array)
        {
            WriteScalar(output, value.Type, value.Value);
            return;
        }
        var elements = (Array)value.Value;
        output.Write((uint)value.ElementType!.Value);
        output.Write((ulong)elements.Length);
        foreach (object element in elements)
            WriteScalar(output, value.ElementType.Value, element);
    }

    private static void WriteScalar(BinaryWriter output, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.UInt8: output.Write((byte)value); break;
            case GgufValueType.Int8: output.Write((sbyte)value); break;
            case GgufValueType.UInt16: output.Write((ushort)value); break;
            case GgufValueType.Int16: output.Write((short)value); break;
            case GgufValueType.UInt32: output.Write((uint)value); break;
            case GgufValueType.Int32: output.Write((int)value); break;
            case GgufValueType.Float32: output.Write((float)value); break;
            case GgufValueType.Bool: output.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(output, (string)value); break;
            case GgufValueType.UInt64: output.Write((ulong)value); break;
            case GgufValueType.Int64: output.Write((long)value); break;
            case GgufValueType.Float64: output.Write((double)value); break;
            default: throw new InvalidOperationException($"GGUF value type {type} cannot be an array element here");
        }
    }
}
