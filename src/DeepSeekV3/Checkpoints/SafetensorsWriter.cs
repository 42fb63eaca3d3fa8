using System.Buffers.Binary;
using System.Text.Json;
using DeepSeekV3.IO;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// Writes a safetensors file. The header lists tensors in the given order (after "__metadata__", keys sorted so
/// output is deterministic) and is padded with spaces to a multiple of 8 bytes, so the data section — and every
/// tensor whose predecessors have 8-byte-multiple sizes — starts 8-byte aligned. The write is atomic.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (any device; copied to contiguous CPU bytes) to <paramref name="path"/>.</summary>
    public static void Write(
        string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        RequireUniqueNames(path, tensors.Select(t => t.Name));
        var byName = tensors.ToDictionary(t => t.Name, t => t.Tensor);
        // An alias is a second handle on the same storage: the writer disposes it, the caller keeps its tensor.
        Write(path, Plan(path, tensors), planned => byName[planned.Name].alias(), metadata);
    }

    /// <summary>
    /// Writes the <paramref name="planned"/> tensors, asking <paramref name="produce"/> for each one's values only when
    /// its bytes are due, so at most one produced tensor is alive at a time (the header needs only names, dtypes and
    /// shapes). The writer disposes each produced tensor after writing it; one whose dtype or shape differs from its
    /// plan is an error, not a corrupt file.
    /// </summary>
    public static void Write(string path, IReadOnlyList<PlannedTensor> planned, Func<PlannedTensor, Tensor> produce,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        RequireUniqueNames(path, planned.Select(t => t.Name));
        byte[] header = BuildHeader(Offsets(planned), metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var entry in planned)
            {
                using var value = produce(entry);
                if (DTypeOf(path, entry.Name, value) != entry.DType || !value.shape.SequenceEqual(entry.Shape))
                    throw new CheckpointFormatException(path, entry.Name,
                        $"planned {entry.DType} [{string.Join(", ", entry.Shape)}], produced {value.dtype} [{string.Join(", ", value.shape)}]");
                TensorBytes.WriteTo(value, stream, entry.DType.ElementSize());
            }
        });
    }

    /// <summary>The plan of already materialized tensors (dtype from each tensor).</summary>
    internal static List<PlannedTensor> Plan(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors) =>
        tensors.Select(t => new PlannedTensor(t.Name, DTypeOf(path, t.Name, t.Tensor), t.Tensor.shape)).ToList();

    /// <summary>Bytes a tensor occupies in the data section; throws if safetensors can't store its dtype.</summary>
    internal static long ByteLength(string path, string name, Tensor tensor) =>
        tensor.NumberOfElements * DTypeOf(path, name, tensor).ElementSize();

    /// <summary>Rejects duplicate or reserved names before anything is written.</summary>
    internal static void RequireUniqueNames(string path, IEnumerable<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            if (name == SafetensorsHeader.MetadataKey)
                throw new CheckpointFormatException(path, name, "is reserved for the header's metadata and can't name a tensor");
            if (!seen.Add(name))
                throw new CheckpointFormatException(path, name, "duplicate tensor name: every name must be unique");
        }
    }

    private static List<SafetensorsTensorInfo> Offsets(IReadOnlyList<PlannedTensor> planned)
    {
        var entries = new List<SafetensorsTensorInfo>(planned.Count);
        long offset = 0;
        foreach (var entry in planned)
        {
            entries.Add(new SafetensorsTensorInfo(entry.Name, entry.DType, entry.Shape, offset, offset + entry.ByteLength));
            offset += entry.ByteLength;
        }
        return entries;
    }

    private static SafetensorsDType DTypeOf(string path, string name, Tensor tensor) =>
        SafetensorsDTypes.FromScalarType(tensor.dtype)
        ?? throw new CheckpointFormatException(path, name, $"dtype {tensor.dtype} has no safetensors equivalent");

    private static byte[] BuildHeader(List<SafetensorsTensorInfo> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var key in metadata.Keys.Order(StringComparer.Ordinal))
                    json.WriteString(key, metadata[key]);
                json.WriteEndObject();
            }
            foreach (var entry in entries)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", entry.DType.ToHeaderString());
                WriteArray(json, "shape", entry.Shape);
                WriteArray(json, "data_offsets", new[] { entry.DataBegin, entry.DataEnd });
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // JSON allows trailing whitespace, so spaces pad the header to the alignment.
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++)
            buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void WriteArray(Utf8JsonWriter json, string key, long[] values)
    {
        json.WriteStartArray(key);
        foreach (long value in values)
            json.WriteNumberValue(value);
        json.WriteEndArray();
    }
}
