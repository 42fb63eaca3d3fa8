using System.Text.Json;

namespace DeepSeekV3.Inference.Eplb;

/// <summary>
/// Per-layer expert load statistics, <c>[layers][logical experts]</c>, as EPLB takes them: token counts or any
/// non-negative measure (the README suggests a moving average of recent counts). Reading and checking only.
/// </summary>
public static class ExpertLoads
{
    /// <summary>Reads a JSON file holding an array of per-layer arrays of numbers.</summary>
    public static double[][] Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidArgumentException($"{path}: expert load file not found");
        return Parse(File.ReadAllText(path), path);
    }

    /// <param name="source">Named in error messages (the file the text came from).</param>
    public static double[][] Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidArgumentException($"{source}: not valid JSON ({e.Message.Split(" Path:")[0]})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Array)
                throw new InvalidArgumentException($"{source}: expected a JSON array of layers, each an array of expert loads; found {root.ValueKind}");
            var layers = root.EnumerateArray().Select((layer, l) => Row(layer, $"{source}: layer {l}")).ToArray();
            Validate(layers, source);
            return layers;
        }
    }

    private static double[] Row(JsonElement layer, string where)
    {
        if (layer.ValueKind != JsonValueKind.Array)
            throw new InvalidArgumentException($"{where}: expected an array of expert loads, found {layer.ValueKind}");
        return layer.EnumerateArray().Select((value, e) => value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double load)
            ? load
            : throw new InvalidArgumentException($"{where}, expert {e}: expected a number, found {value.ValueKind}")).ToArray();
    }

    /// <summary>
    /// Refuses what EPLB cannot balance: no layers, no experts, ragged rows, or a load that is negative, NaN or beyond
    /// float32 (the reference works in float32).
    /// </summary>
    /// <returns>The number of layers and of logical experts.</returns>
    public static (int Layers, int Experts) Validate(double[][] loads, string what = "expert loads")
    {
        if (loads is null || loads.Length == 0) throw new InvalidArgumentException($"{what}: no layers; expected [layers][experts]");
        int experts = loads[0]?.Length ?? 0;
        if (experts == 0) throw new InvalidArgumentException($"{what}: layer 0 has no experts");
        for (int l = 0; l < loads.Length; l++)
        {
            if (loads[l] is null || loads[l].Length != experts)
                throw new InvalidArgumentException(
                    $"{what}: layer {l} has {loads[l]?.Length ?? 0} experts, layer 0 has {experts}; every layer must have the same number");
            for (int e = 0; e < experts; e++)
                if (!(loads[l][e] >= 0) || loads[l][e] > float.MaxValue)
                    throw new InvalidArgumentException($"{what}: layer {l}, expert {e}: load {loads[l][e]} must be a non-negative float32 number");
        }
        return (loads.Length, experts);
    }
}
