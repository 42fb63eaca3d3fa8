using System.Text.Json;
using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// A model directory holding either one "model.safetensors" or shards "model-0000N-of-0000M.safetensors" listed by
/// "model.safetensors.index.json" ({"metadata": {...}, "weight_map": {tensor: shard file}}).
/// Open reads every shard's header once to check that index and shards agree exactly; the shards are then mapped
/// only when a tensor of theirs is first read.
/// </summary>
public sealed class CheckpointReader : IDisposable
{
    private readonly string _directory;
    private readonly Dictionary<string, SafetensorsTensorInfo> _infos;
    private readonly Dictionary<string, string> _fileOf;
    private readonly Dictionary<string, SafetensorsFile> _openShards = new(StringComparer.Ordinal);

    private CheckpointReader(string directory, List<(string File, SafetensorsTensorInfo Info)> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        _directory = directory;
        _infos = tensors.ToDictionary(t => t.Info.Name, t => t.Info, StringComparer.Ordinal);
        _fileOf = tensors.ToDictionary(t => t.Info.Name, t => t.File, StringComparer.Ordinal);
        TensorNames = tensors.Select(t => t.Info.Name).ToList();
        Metadata = metadata;
    }

    /// <summary>All tensor names: shards in file-name order, each in its header order.</summary>
    public IReadOnlyList<string> TensorNames { get; }

    /// <summary>The index's "metadata" (non-string values as raw JSON text), or the single file's "__metadata__".</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static CheckpointReader Open(string directory)
    {
        if (!Directory.Exists(directory))
            throw new CheckpointFormatException(directory, null, "checkpoint directory does not exist");
        string single = Path.Combine(directory, CheckpointLayout.SingleFileName);
        string index = Path.Combine(directory, CheckpointLayout.IndexFileName);
        bool hasSingle = File.Exists(single), hasIndex = File.Exists(index);
        if (hasSingle && hasIndex)
            throw new CheckpointFormatException(directory, null,
                $"both {CheckpointLayout.SingleFileName} and {CheckpointLayout.IndexFileName} exist: expected exactly one (interrupted write?)");
        if (hasSingle)
        {
            using var file = SafetensorsFile.Open(single);
            var tensors = file.TensorsInFileOrder.Select(info => (CheckpointLayout.SingleFileName, info)).ToList();
            return new CheckpointReader(directory, tensors, file.Metadata);
        }
        if (hasIndex)
            return OpenSharded(directory, index);
        throw new CheckpointFormatException(directory, null,
            $"expected {CheckpointLayout.SingleFileName} or {CheckpointLayout.IndexFileName}, found neither");
    }

    public bool Contains(string name) => _infos.ContainsKey(name);

    public SafetensorsTensorInfo Info(string name) =>
        _infos.TryGetValue(name, out var info) ? info : throw new TensorNotFoundException(_directory, name);

    /// <summary>The file name (inside the directory) holding <paramref name="name"/>.</summary>
    public string FileOf(string name) =>
        _fileOf.TryGetValue(name, out var file) ? file : throw new TensorNotFoundException(_directory, name);

    /// <summary>A new CPU tensor with the stored dtype and shape; the caller owns it.</summary>
    public Tensor Read(string name)
    {
        string file = FileOf(name);
        if (!_openShards.TryGetValue(file, out var shard))
        {
            shard = SafetensorsFile.Open(Path.Combine(_directory, file));
            _openShards[file] = shard;
        }
        return shard.ReadTensor(name);
    }

    /// <summary>
    /// Like <see cref="Read"/>, but an FP8 weight comes back dequantized to fp32 with its block scale
    /// <c>&lt;name&gt;_scale_inv</c> (docs/reference-notes.md#checkpoint-format). Returns the names it read, so
    /// callers can account for every tensor. The caller owns the tensor.
    /// </summary>
    public Tensor ReadDequantized(string name, out IReadOnlyList<string> consumed)
    {
        var stored = Read(name);
        if (Info(name).DType is not SafetensorsDType.F8_E4M3)
        {
            consumed = [name];
            return stored;
        }
        string scaleName = HfTensorNames.ScaleOf(name);
        if (!Contains(scaleName))
            throw new CheckpointFormatException(FileOf(name), name, $"FP8 weight has no block scale tensor {scaleName}");
        consumed = [name, scaleName];
        return BlockQuantization.DequantizeWeight(stored, Read(scaleName), ScalarType.Float32, tensorName: name);
    }

    public void Dispose()
    {
        foreach (var shard in _openShards.Values)
            shard.Dispose();
        _openShards.Clear();
    }

    private static CheckpointReader OpenSharded(string directory, string indexPath)
    {
        var (metadata, weightMap) = ReadIndex(indexPath);
        var tensors = new List<(string File, SafetensorsTensorInfo Info)>();
        // Shard-named files the index never mentions are checked too: their tensors would otherwise vanish silently.
        var orphans = Directory.EnumerateFiles(directory).Select(Path.GetFileName).OfType<string>()
            .Where(f => CheckpointLayout.ShardFileNamePattern().IsMatch(f) && !weightMap.ContainsValue(f));
        foreach (string file in weightMap.Values.Concat(orphans).Distinct().Order(StringComparer.Ordinal))
        {
            string shardPath = Path.Combine(directory, file);
            if (!File.Exists(shardPath))
                throw new CheckpointFormatException(indexPath, weightMap.First(p => p.Value == file).Key,
                    $"mapped to shard {file}, which does not exist in {directory}");
            using var shard = SafetensorsFile.Open(shardPath);
            foreach (var info in shard.TensorsInFileOrder)
            {
                if (!weightMap.TryGetValue(info.Name, out var mapped) || mapped != file)
                    throw new CheckpointFormatException(shardPath, info.Name,
                        $"is in this shard but the index maps it to {(mapped is null ? "nothing" : mapped)}");
                tensors.Add((file, info));
            }
            var missing = weightMap.Where(p => p.Value == file && !shard.Tensors.ContainsKey(p.Key)).Select(p => p.Key).FirstOrDefault();
            if (missing is not null)
                throw new CheckpointFormatException(shardPath, missing, $"is listed in {CheckpointLayout.IndexFileName} for this shard but absent from it");
        }
        return new CheckpointReader(directory, tensors, metadata);
    }

    private static (Dictionary<string, string> Metadata, Dictionary<string, string> WeightMap) ReadIndex(string indexPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(indexPath, null, $"not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(indexPath, null, "expected an object with a \"weight_map\" object");

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                string? file = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
                // Shard names are plain file names; anything else could point outside the directory.
                if (string.IsNullOrEmpty(file) || Path.GetFileName(file) != file)
                    throw new CheckpointFormatException(indexPath, entry.Name, $"weight_map: expected a shard file name, found {entry.Value.GetRawText()}");
                if (!weightMap.TryAdd(entry.Name, file))
                    throw new CheckpointFormatException(indexPath, entry.Name, "listed twice in weight_map");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
                foreach (var entry in meta.EnumerateObject())
                    metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : entry.Value.GetRawText();
            return (metadata, weightMap);
        }
    }
}
