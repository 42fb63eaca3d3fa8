using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// A read-only safetensors file: [u64 LE header length N][N bytes UTF-8 JSON header][data section].
/// Open reads and validates only the header; the file is memory-mapped, and <see cref="ReadTensor"/> copies one
/// tensor's bytes from the map, so a checkpoint larger than RAM can be read tensor by tensor.
/// Reads are independent of each other (each maps its own view), so concurrent reads are safe.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    private SafetensorsFile(string path, MemoryMappedFile map, long dataStart, SafetensorsHeader header)
    {
        FilePath = path;
        _map = map;
        _dataStart = dataStart;
        TensorsInFileOrder = header.Tensors;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Metadata = header.Metadata;
    }

    public string FilePath { get; }

    /// <summary>Header entries by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors => _byName;

    /// <summary>Header entries in the order the header lists them.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> TensorsInFileOrder { get; }

    /// <summary>The header's "__metadata__" string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="CheckpointFormatException"/> on any defect.</summary>
    public static SafetensorsFile Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            var (dataStart, header) = ReadHeader(path, stream);
            // Capacity 0 maps the whole file; leaveOpen false hands the stream's lifetime to the map.
            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            return new SafetensorsFile(path, map, dataStart, header);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The entry for <paramref name="name"/>; throws <see cref="TensorNotFoundException"/> if absent.</summary>
    public SafetensorsTensorInfo Info(string name) =>
        _byName.TryGetValue(name, out var info) ? info : throw new TensorNotFoundException(FilePath, name);

    /// <summary>
    /// A new CPU tensor with the stored dtype and shape, its bytes copied straight from the map into the tensor's
    /// native memory. The caller owns (and disposes) it.
    /// </summary>
    public unsafe Tensor ReadTensor(string name)
    {
        var info = Info(name);
        var dtype = info.DType.ToScalarType();
        if (info.ByteLength == 0)
            return empty(info.Shape, dtype, CPU);

        using var view = _map.CreateViewAccessor(_dataStart + info.DataBegin, info.ByteLength, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        try
        {
            // The view starts at a page boundary; PointerOffset is where the requested offset lies within it.
            return TensorBytes.FromMemory(pointer + view.PointerOffset, dtype, info.Shape, info.DType.ElementSize());
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    /// <summary>Where the data section starts in the file: a tensor's bytes are at DataStart + its DataBegin.</summary>
    public long DataStart => _dataStart;

    /// <summary>A read-only view of the whole file (pages load when first touched); the caller disposes it.</summary>
    public MemoryMappedViewAccessor MapWholeFile() => _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);

    public void Dispose() => _map.Dispose();

    private static (long DataStart, SafetensorsHeader Header) ReadHeader(string path, FileStream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new CheckpointFormatException(path, null, $"file is {fileLength} bytes, shorter than the 8-byte header length prefix");

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw new CheckpointFormatException(path, null,
                $"header length {headerLength} runs past the end of the file: expected at most {fileLength - 8}");
        if (headerLength > SafetensorsHeader.MaxHeaderBytes)
            throw new CheckpointFormatException(path, null,
                $"header length {headerLength} is absurd: expected at most {SafetensorsHeader.MaxHeaderBytes}");

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        long dataStart = 8 + (long)headerLength;
        return (dataStart, SafetensorsHeader.Parse(path, json, fileLength - dataStart));
    }
}
