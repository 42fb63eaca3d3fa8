using System.Text.Json;
using DeepSeekV3.IO;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// Writes a model directory readable by <see cref="CheckpointReader"/> and Hugging Face loaders: one
/// "model.safetensors" when all tensors fit in <c>maxShardBytes</c>, else shards "model-00001-of-0000M.safetensors"
/// filled in the given order plus "model.safetensors.index.json". Each file is written atomically; files of an
/// earlier write that the new set does not use are deleted only after the whole new set is on disk.
/// </summary>
public static class CheckpointWriter
{
    public static void Write(
        string directory,
        IReadOnlyList<(string Name, Tensor Tensor)> tensors,
        long maxShardBytes = 5L << 30,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        SafetensorsWriter.RequireUniqueNames(directory, tensors.Select(t => t.Name));
        var byName = tensors.ToDictionary(t => t.Name, t => t.Tensor);
        // An alias is a second handle on the same storage: the writer disposes it, the caller keeps its tensor.
        Write(directory, SafetensorsWriter.Plan(directory, tensors), planned => byName[planned.Name].alias(), maxShardBytes, metadata);
    }

    /// <summary>
    /// The same directory from a plan: <paramref name="produce"/> is asked for each tensor in plan order while its
    /// shard is written, and the writer disposes it, so a model far larger than memory can be written one tensor
    /// at a time (<see cref="StreamingInitializer"/>).
    /// </summary>
    public static void Write(
        string directory,
        IReadOnlyList<PlannedTensor> tensors,
        Func<PlannedTensor, Tensor> produce,
        long maxShardBytes = 5L << 30,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (maxShardBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "expected a positive byte count");
        SafetensorsWriter.RequireUniqueNames(directory, tensors.Select(t => t.Name));
        Directory.CreateDirectory(directory);

        var shards = PlanShards(tensors, maxShardBytes);
        var written = new HashSet<string>(StringComparer.Ordinal);
        if (shards.Count == 1)
        {
            SafetensorsWriter.Write(Path.Combine(directory, CheckpointLayout.SingleFileName), tensors, produce, metadata);
            written.Add(CheckpointLayout.SingleFileName);
        }
        else
        {
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < shards.Count; i++)
            {
                string file = CheckpointLayout.ShardFileName(i + 1, shards.Count);
                SafetensorsWriter.Write(Path.Combine(directory, file), shards[i], produce, metadata);
                foreach (var planned in shards[i])
                    weightMap[planned.Name] = file;
                written.Add(file);
            }
            long totalSize = tensors.Sum(t => t.ByteLength);
            AtomicFile.Write(Path.Combine(directory, CheckpointLayout.IndexFileName), stream => WriteIndex(stream, metadata, totalSize, weightMap));
            written.Add(CheckpointLayout.IndexFileName);
        }
        RemoveStaleFiles(directory, written);
    }

    /// <summary>
    /// One shard of a model written by several processes (expert parallelism: each holds some experts): shard
    /// <paramref name="number"/> of <paramref name="count"/>, "model-0000N-of-0000M.safetensors". Returns the byte
    /// length of each tensor, for the index that one process writes with <see cref="WriteIndex"/> when every shard
    /// is on disk.
    /// </summary>
    public static IReadOnlyList<(string Name, long Bytes)> WriteShard(string directory, int number, int count,
        IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        SafetensorsWriter.RequireUniqueNames(directory, tensors.Select(t => t.Name));
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, CheckpointLayout.ShardFileName(number, count)), tensors, metadata);
        return tensors.Select(t => (t.Name, SafetensorsWriter.ByteLength(directory, t.Name, t.Tensor))).ToList();
    }

    /// <summary>model.safetensors.index.json for shards written by <see cref="WriteShard"/>: tensor name → the
    /// number of the shard holding it.</summary>
    public static void WriteIndex(string directory, int count, IEnumerable<(string Name, int Shard, long Bytes)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long total = 0;
        foreach (var (name, shard, bytes) in tensors)
        {
            if (!weightMap.TryAdd(name, CheckpointLayout.ShardFileName(shard, count)))
                throw new ArgumentException($"{directory}: tensor \"{name}\" is in two shards");
            total += bytes;
        }
        AtomicFile.Write(Path.Combine(directory, CheckpointLayout.IndexFileName), stream => WriteIndex(stream, metadata, total, weightMap));
    }

    /// <summary>Greedy in order: a shard closes when the next tensor would overflow it; an oversized tensor gets its own.</summary>
    private static List<List<PlannedTensor>> PlanShards(IReadOnlyList<PlannedTensor> tensors, long maxShardBytes)
    {
        var shards = new List<List<PlannedTensor>> { new() };
        long current = 0;
        foreach (var entry in tensors)
        {
            if (shards[^1].Count > 0 && current + entry.ByteLength > maxShardBytes)
            {
                shards.Add(new());
                current = 0;
            }
            shards[^1].Add(entry);
            current += entry.ByteLength;
        }
        return shards;
    }

    /// <summary>Same layout as Hugging Face's index: metadata (with total_size as a number) then the sorted weight_map.</summary>
    private static void WriteIndex(Stream stream, IReadOnlyDictionary<string, string>? metadata, long totalSize,
        SortedDictionary<string, string> weightMap)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        foreach (var key in (metadata?.Keys ?? Enumerable.Empty<string>()).Where(k => k != "total_size").Order(StringComparer.Ordinal))
            json.WriteString(key, metadata![key]);
        json.WriteNumber("total_size", totalSize);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (name, file) in weightMap)
            json.WriteString(name, file);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void RemoveStaleFiles(string directory, HashSet<string> written)
    {
        foreach (string path in Directory.EnumerateFiles(directory))
        {
            string file = Path.GetFileName(path);
            bool ours = file == CheckpointLayout.SingleFileName || file == CheckpointLayout.IndexFileName
                || CheckpointLayout.ShardFileNamePattern().IsMatch(file);
            if (ours && !written.Contains(file))
                File.Delete(path);
        }
    }
}
