using System.IO.MemoryMappedFiles;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.IO;
using DeepSeekV3.Kernels;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// <see cref="IDecoderWeights"/> straight from a checkpoint directory's safetensors files, memory-mapped: every
/// <see cref="WeightMatrix"/> points into the mapped file, so nothing is copied, start-up reads only the headers, and
/// resident memory grows only by the pages a forward pass touches (the OS may drop clean pages again under pressure).
/// The mappings are advised for 2 MB pages (<see cref="HugePageAdvice"/>) unless asked not to.
/// F32, BF16 and F8_E4M3 (with its F32 <c>weight_scale_inv</c>) matrices are used as stored; the kernels load
/// unaligned, so safetensors' arbitrary data offsets need no care. Small 1-D tensors (norms) are copied to fp32.
/// Dispose only after every decoder built on it.
/// </summary>
public sealed unsafe class MappedCheckpointWeights : IDecoderWeights, IDisposable
{
    private readonly string _directory;
    private readonly CheckpointReader _reader;
    private readonly Dictionary<string, (SafetensorsFile File, MemoryMappedViewAccessor View, nint Base)> _files = new(StringComparer.Ordinal);

    private readonly bool _hugePages;

    /// <param name="hugePages">Advise the mappings for 2 MB pages (<see cref="HugePageAdvice"/>); false maps with
    /// the OS default (bench/WeightsBench --part mapping compares the two).</param>
    public MappedCheckpointWeights(string directory, bool hugePages = true)
    {
        _directory = directory;
        _hugePages = hugePages;
        _reader = CheckpointReader.Open(directory);
    }

    /// <summary>Bytes of the mapped files.</summary>
    public long MappedBytes => _files.Values.Sum(f => f.View.Capacity);

    public WeightMatrix Matrix(string name)
    {
        var info = _reader.Info(name);
        if (info.Shape.Length != 2)
            throw new CheckpointFormatException(Path.Combine(_directory, _reader.FileOf(name)), name,
                $"expected a 2-D weight, found [{string.Join(", ", info.Shape)}]");
        int rows = checked((int)info.Shape[0]), columns = checked((int)info.Shape[1]);
        var format = info.DType switch
        {
            SafetensorsDType.F32 => WeightFormat.F32,
            SafetensorsDType.BF16 => WeightFormat.Bf16,
            SafetensorsDType.F8_E4M3 => WeightFormat.Fp8E4M3,
            _ => throw new CheckpointFormatException(Path.Combine(_directory, _reader.FileOf(name)), name,
                $"the fused decoder reads F32, BF16 or F8_E4M3 weights, found {info.DType} (convert the checkpoint, or load it with --weights f32)"),
        };
        float* scales = format == WeightFormat.Fp8E4M3 ? (float*)Scales(name, rows, columns) : null;
        return new WeightMatrix(Address(name), scales, rows, columns, format, name);
    }

    public float[]? Vector(string name)
    {
        if (!_reader.Contains(name)) return null;
        using var stored = _reader.Read(name);
        using var f = stored.to(ScalarType.Float32);
        return f.data<float>().ToArray();
    }

    private byte* Scales(string weightName, int rows, int columns)
    {
        string name = HfTensorNames.ScaleOf(weightName);
        if (!_reader.Contains(name))
            throw new CheckpointFormatException(Path.Combine(_directory, _reader.FileOf(weightName)), weightName,
                $"FP8 weight has no block scale tensor {name}");
        var info = _reader.Info(name);
        long[] grid = [(rows + WeightMatrix.BlockSize - 1) / WeightMatrix.BlockSize, (columns + WeightMatrix.BlockSize - 1) / WeightMatrix.BlockSize];
        if (info.DType != SafetensorsDType.F32 || !info.Shape.SequenceEqual(grid))
            throw new CheckpointFormatException(Path.Combine(_directory, _reader.FileOf(name)), name,
                $"expected F32 [{string.Join(", ", grid)}] for a [{rows}, {columns}] weight in 128x128 blocks, found {info.DType} [{string.Join(", ", info.Shape)}]");
        return Address(name);
    }

    /// <summary>The first byte of <paramref name="name"/>'s data in its mapped file (mapping the file on first use).</summary>
    private byte* Address(string name)
    {
        string file = _reader.FileOf(name);
        if (!_files.TryGetValue(file, out var mapped))
        {
            var safetensors = SafetensorsFile.Open(Path.Combine(_directory, file));
            var view = safetensors.MapWholeFile();
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            if (_hugePages) HugePageAdvice.Advise(pointer, view.PointerOffset + view.Capacity);
            mapped = (safetensors, view, (nint)(pointer + view.PointerOffset));
            _files[file] = mapped;
        }
        return (byte*)mapped.Base + mapped.File.DataStart + _reader.Info(name).DataBegin;
    }

    public void Dispose()
    {
        foreach (var (file, view, _) in _files.Values)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            file.Dispose();
        }
        _files.Clear();
        _reader.Dispose();
    }
}
