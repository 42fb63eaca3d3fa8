using System.Globalization;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Training.Optimization;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Checkpointing;

/// <summary>
/// Reads the AdamW moments of a checkpoint written by any number of ranks, for any slicing of the parameters:
/// every <c>optimizer*.safetensors</c> file holds pieces ("exp_avg.NAME" for a whole parameter,
/// "exp_avg.NAME@OFFSET" for elements from OFFSET of its flat order), and a slice is assembled from the pieces it
/// overlaps. This is what lets a run saved by N ranks resume on M (ZeRO-1 resharding) or on one process.
/// </summary>
internal sealed class OptimizerStateReader : IDisposable
{
    private readonly List<SafetensorsFile> _files = [];
    private readonly Dictionary<(string Prefix, string Name), List<Piece>> _pieces = [];

    private sealed record Piece(SafetensorsFile File, string Tensor, long Offset, long Length);

    public OptimizerStateReader(string checkpoint, string rngTensor)
    {
        var paths = Directory.EnumerateFiles(checkpoint, "optimizer*.safetensors").Order(StringComparer.Ordinal).ToList();
        if (paths.Count == 0)
            throw new DeepSeekV3Exception($"{checkpoint}: no optimizer*.safetensors (an incomplete checkpoint?)");
        foreach (string path in paths)
        {
            var file = SafetensorsFile.Open(path);
            _files.Add(file);
            foreach (var (tensor, info) in file.Tensors)
            {
                if (tensor == rngTensor)
                {
                    RngFile = file;
                    continue;
                }
                var (prefix, name, offset) = Parse(path, tensor);
                long length = info.Shape.Aggregate(1L, (a, b) => a * b);
                if (!_pieces.TryGetValue((prefix, name), out var list))
                    _pieces[(prefix, name)] = list = [];
                list.Add(new Piece(file, tensor, offset, length));
            }
        }
    }

    /// <summary>The file holding the saved torch RNG state, if any.</summary>
    public SafetensorsFile? RngFile { get; }

    /// <summary>The slice's moment as a 1-D fp32 tensor, or null when the checkpoint has none for the parameter
    /// (it never had a gradient). A slice only partly covered is an error. Owned by the caller.</summary>
    public Tensor? Read(string prefix, ParameterSlice slice)
    {
        if (!_pieces.TryGetValue((prefix, slice.Name), out var pieces)) return null;
        var result = zeros(slice.Length, ScalarType.Float32);
        long covered = 0;
        long start = slice.Offset, end = slice.Offset + slice.Length;
        foreach (var piece in pieces)
        {
            long from = Math.Max(start, piece.Offset), to = Math.Min(end, piece.Offset + piece.Length);
            if (to <= from) continue;
            using var scope = NewDisposeScope();
            var values = piece.File.ReadTensor(piece.Tensor).reshape(-1).narrow(0, from - piece.Offset, to - from);
            result.narrow(0, from - start, to - from).copy_(values);
            covered += to - from;
        }
        if (covered != slice.Length)
        {
            result.Dispose();
            throw new DeepSeekV3Exception(
                $"optimizer state {prefix}.{slice.Name}: the checkpoint covers {covered} of elements [{start}, {end}); " +
                "a rank's optimizer file is missing or from another run");
        }
        return result;
    }

    private static (string Prefix, string Name, long Offset) Parse(string path, string tensor)
    {
        int dot = tensor.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
            throw new DeepSeekV3Exception($"{path}: tensor \"{tensor}\" is not optimizer state (expected exp_avg.NAME or exp_avg_sq.NAME)");
        string prefix = tensor[..dot], rest = tensor[(dot + 1)..];
        int at = rest.LastIndexOf('@');
        if (at < 0) return (prefix, rest, 0);
        if (!long.TryParse(rest[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out long offset))
            throw new DeepSeekV3Exception($"{path}: tensor \"{tensor}\": expected NAME@OFFSET with a decimal offset");
        return (prefix, rest[..at], offset);
    }

    public void Dispose() => _files.ForEach(f => f.Dispose());
}
