using DeepSeekV3.IO;

namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// Exports one of our HF model directories (config.json + safetensors, FP8 dequantized on the way) as a GGUF v3 file
/// llama.cpp runs with its <c>deepseek2</c> architecture: hyper-parameters (<see cref="DeepSeek2Metadata"/>),
/// tokenizer (<see cref="GgufVocabulary"/>) and tensors (<see cref="DeepSeek2Tensors"/>). The file is written
/// atomically: after a failure no partial output is left behind.
/// </summary>
public static class GgufExporter
{
    public static void Export(string modelDir, string outFile, GgufTensorType type = GgufTensorType.F32,
        string? tokenizerJsonPath = null)
    {
        var config = ModelCheckpoint.LoadConfig(modelDir);
        string configPath = Path.Combine(modelDir, ModelCheckpoint.ConfigFile);
        var vocabulary = tokenizerJsonPath is null
            ? GgufVocabulary.Placeholder(config, configPath)
            : GgufVocabulary.FromTokenizerJson(tokenizerJsonPath, config.VocabSize);

        var writer = new GgufWriter();
        foreach (var (key, value) in DeepSeek2Metadata.For(config, configPath))
            writer.Add(key, value);
        writer.Add("general.name", GgufValue.String(Path.GetFileName(Path.GetFullPath(modelDir).TrimEnd(Path.DirectorySeparatorChar))));
        writer.Add("general.alignment", GgufValue.UInt32(GgufWriter.Alignment));
        // llama_ftype: 0 = all F32, 1 = mostly F16, 7 = mostly Q8_0 (vectors and the router stay F32).
        writer.Add("general.file_type", GgufValue.UInt32(type switch { GgufTensorType.F16 => 1u, GgufTensorType.Q8_0 => 7u, _ => 0u }));
        foreach (var (key, value) in vocabulary.Metadata(config))
            writer.Add(key, value);

        using var reader = CheckpointReader.Open(modelDir);
        DeepSeek2Tensors.AddTo(writer, config, reader, type);
        try
        {
            AtomicFile.Write(outFile, writer.WriteTo);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GgufException(outFile, $"cannot write the GGUF file: {e.Message}", e);
        }
    }
}
