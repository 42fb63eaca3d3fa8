using System.Text.Json;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// Parses and validates the JSON header of a safetensors file:
/// {"__metadata__": {string: string}, name: {"dtype": "BF16", "shape": [d0, d1], "data_offsets": [begin, end]}, ...}.
/// Every rule of the format is checked, so a reader can trust each entry's offsets before touching the data.
/// </summary>
internal sealed class SafetensorsHeader
{
    public const string MetadataKey = "__metadata__";

    /// <summary>Upper bound on the header size; the reference implementation uses the same 100 MB limit.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafetensorsHeader(List<SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Entries in the order the header lists them.</summary>
    public List<SafetensorsTensorInfo> Tensors { get; }

    public Dictionary<string, string> Metadata { get; }

    /// <summary>Parses <paramref name="json"/>; <paramref name="dataLength"/> is the byte count after the header.</summary>
    public static SafetensorsHeader Parse(string path, ReadOnlyMemory<byte> json, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, null, $"header is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(path, null, $"header: expected a JSON object, found {document.RootElement.ValueKind}");

            var tensors = new List<SafetensorsTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new CheckpointFormatException(path, property.Name, "listed twice in the header");
                if (property.Name == MetadataKey)
                    ReadMetadata(path, property.Value, metadata);
                else
                    tensors.Add(ReadEntry(path, property.Name, property.Value, dataLength));
            }
            RequireContiguousCoverage(path, tensors, dataLength);
            return new SafetensorsHeader(tensors, metadata);
        }
    }

    private static void ReadMetadata(string path, JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, null, $"{MetadataKey}: expected an object of strings, found {element.ValueKind}");
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException(path, null,
                    $"{MetadataKey}.{entry.Name}: expected a string value, found {entry.Value.ValueKind}");
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ReadEntry(string path, string name, JsonElement entry, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(path, name, $"expected an object with dtype, shape, data_offsets, found {entry.ValueKind}");

        var dtypeElement = RequireProperty(path, name, entry, "dtype", JsonValueKind.String);
        string dtypeText = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeText, out var dtype))
            throw new CheckpointFormatException(path, name,
                $"unknown dtype \"{dtypeText}\"; expected one of {string.Join(", ", Enum.GetNames<SafetensorsDType>())}");

        long[] shape = ReadIntegers(path, name, RequireProperty(path, name, entry, "shape", JsonValueKind.Array), "shape");
        long[] offsets = ReadIntegers(path, name, RequireProperty(path, name, entry, "data_offsets", JsonValueKind.Array), "data_offsets");
        if (offsets.Length != 2)
            throw new CheckpointFormatException(path, name, $"data_offsets: expected [begin, end], found {offsets.Length} numbers");
        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > dataLength)
            throw new CheckpointFormatException(path, name,
                $"data_offsets [{begin}, {end}] out of range: expected begin <= end <= {dataLength} (data section size)");

        long expectedBytes = ExpectedByteLength(path, name, shape, dtype);
        if (end - begin != expectedBytes)
            throw new CheckpointFormatException(path, name,
                $"byte size: expected {expectedBytes} ({dtype} [{string.Join(", ", shape)}]), found {end - begin} from data_offsets [{begin}, {end}]");
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    private static JsonElement RequireProperty(string path, string name, JsonElement entry, string key, JsonValueKind kind)
    {
        if (!entry.TryGetProperty(key, out var value))
            throw new CheckpointFormatException(path, name, $"missing \"{key}\"");
        if (value.ValueKind != kind)
            throw new CheckpointFormatException(path, name, $"\"{key}\": expected {kind}, found {value.ValueKind}");
        return value;
    }

    private static long[] ReadIntegers(string path, string name, JsonElement array, string key)
    {
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long value) || value < 0)
                throw new CheckpointFormatException(path, name, $"\"{key}\"[{i}]: expected a non-negative integer, found {item.GetRawText()}");
            values[i++] = value;
        }
        return values;
    }

    private static long ExpectedByteLength(string path, string name, long[] shape, SafetensorsDType dtype)
    {
        try
        {
            return checked(shape.Aggregate(1L, (n, d) => n * d) * dtype.ElementSize());
        }
        catch (OverflowException e)
        {
            throw new CheckpointFormatException(path, name, $"shape [{string.Join(", ", shape)}] overflows a 64-bit byte count", e);
        }
    }

    /// <summary>
    /// The format requires the data section to be indexed entirely, without holes or overlaps (so a file can't hide
    /// other content, and each byte belongs to exactly one tensor).
    /// </summary>
    private static void RequireContiguousCoverage(string path, List<SafetensorsTensorInfo> tensors, long dataLength)
    {
        long expectedBegin = 0;
        string? previous = null;
        foreach (var info in tensors.OrderBy(t => t.DataBegin).ThenBy(t => t.DataEnd))
        {
            if (info.DataBegin < expectedBegin)
                throw new CheckpointFormatException(path, info.Name,
                    $"data_offsets [{info.DataBegin}, {info.DataEnd}] overlap tensor '{previous}' which ends at {expectedBegin}");
            if (info.DataBegin > expectedBegin)
                throw new CheckpointFormatException(path, info.Name,
                    $"data_offsets begin at {info.DataBegin}, expected {expectedBegin}: the data section has a hole");
            expectedBegin = info.DataEnd;
            previous = info.Name;
        }
        if (expectedBegin != dataLength)
            throw new CheckpointFormatException(path, previous,
                $"tensors cover {expectedBegin} bytes of the data section, expected all {dataLength}");
    }
}
