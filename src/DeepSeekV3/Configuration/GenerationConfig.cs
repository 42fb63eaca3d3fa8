using System.Text.Json;
using DeepSeekV3.Inference;

namespace DeepSeekV3.Configuration;

/// <summary>
/// <c>generation_config.json</c> beside a checkpoint: the sampling defaults its authors recommend, in HF transformers'
/// field names (do_sample, temperature, top_p, top_k, repetition_penalty). vLLM's server takes a request's missing
/// sampling fields from this file; <c>dsv3 chat</c> and <c>dsv3 serve</c> do the same. Fields not in the file are
/// null and leave the caller's own default in place.
/// </summary>
public sealed record GenerationConfig
{
    public const string FileName = "generation_config.json";

    /// <summary>llama.cpp's chat sampling (temperature 0.8, top-p 0.95) with the repetition penalty 1.1 over the last 64
    /// tokens it used by default until 2024: what <c>dsv3 chat</c> samples with when a model has no file.</summary>
    public static GenerationConfig ChatDefaults { get; } = new() { DoSample = true, Temperature = 0.8, TopP = 0.95, RepetitionPenalty = 1.1 };

    /// <summary>false: greedy whatever the temperature (transformers' rule).</summary>
    public bool? DoSample { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? RepetitionPenalty { get; init; }

    /// <summary>The file in <paramref name="modelDirectory"/>, or null when there is none.</summary>
    /// <exception cref="ConfigException">The file is not a JSON object, or a field has the wrong type or range.</exception>
    public static GenerationConfig? Load(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, FileName);
        if (!File.Exists(path)) return null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{path}: not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ConfigException($"{path}: expected a JSON object, found {root.ValueKind}");
            return new GenerationConfig
            {
                DoSample = Field<bool>(root, path, "do_sample", e => e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : (bool?)null, "true or false"),
                Temperature = Number(root, path, "temperature", v => v >= 0, "a number >= 0"),
                TopP = Number(root, path, "top_p", v => v is > 0 and <= 1, "a number in (0, 1]"),
                TopK = (int?)Number(root, path, "top_k", v => v >= 0 && v == Math.Floor(v) && v <= int.MaxValue, "an integer >= 0"),
                RepetitionPenalty = Number(root, path, "repetition_penalty", v => v > 0, "a number > 0"),
            };
        }
    }

    /// <summary>
    /// <paramref name="fallback"/> with this file's fields in place of its own (the caller then applies what a user
    /// or request gave explicitly). do_sample false makes the temperature 0, i.e. greedy.
    /// </summary>
    public SamplingParams Over(SamplingParams fallback) => fallback with
    {
        Temperature = DoSample == false ? 0 : Temperature ?? fallback.Temperature,
        TopP = TopP ?? fallback.TopP,
        TopK = TopK ?? fallback.TopK,
        RepetitionPenalty = RepetitionPenalty ?? fallback.RepetitionPenalty,
    };

    private static double? Number(JsonElement root, string path, string name, Func<double, bool> valid, string expected) =>
        Field<double>(root, path, name, e => e.ValueKind == JsonValueKind.Number && e.GetDouble() is var v && double.IsFinite(v) && valid(v) ? v : null, expected);

    private static T? Field<T>(JsonElement root, string path, string name, Func<JsonElement, T?> read, string expected) where T : struct
    {
        if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null) return null;
        return read(element) ?? throw new ConfigException($"{path}: \"{name}\" = {element.GetRawText()} must be {expected}") { Field = name };
    }
}
