using DeepSeekV3.Checkpoints;
using DeepSeekV3.Checkpoints.Gguf;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Bench;

/// <summary>The benchmarked model: a random DeepSeek-V3-shaped model, saved once as an HF directory and a GGUF.</summary>
internal static class BenchModel
{
    /// <summary>
    /// About 276M parameters: the "small" preset's layout (MLA with query compression, 16 routed experts in 4 groups,
    /// top-4 from 2 groups, a shared expert, one dense leading layer, YaRN ×4 over 1024) at hidden 1024 and 8 layers.
    /// </summary>
    public static ModelConfig Config { get; } = ModelPresets.Small with
    {
        VocabSize = 32000, HiddenSize = 1024, IntermediateSize = 2816, NumHiddenLayers = 8, NumNextnPredictLayers = 0,
        QLoraRank = 384, KvLoraRank = 256, QkNopeHeadDim = 64, QkRopeHeadDim = 32, VHeadDim = 64,
        MoeIntermediateSize = 512, InitializerRange = 0.02,
    };

    /// <summary>Creates &lt;work&gt;/model (HF, f32) and &lt;work&gt;/model-f32.gguf unless they exist (delete the folder
    /// after changing <see cref="Config"/>); returns both paths.</summary>
    public static (string ModelDir, string Gguf) Prepare(string workDir, long seed)
    {
        string modelDir = Path.Combine(workDir, "model"), gguf = Path.Combine(workDir, "model-f32.gguf");
        if (!File.Exists(Path.Combine(modelDir, ModelCheckpoint.ConfigFile)))
        {
            using var model = new DeepSeekV3ForCausalLM(Config);
            WeightInitializer.Initialize(model, seed, Config.InitializerRange);
            ModelCheckpoint.Save(model, modelDir, new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32 });
        }
        if (!File.Exists(gguf))
            GgufExporter.Export(modelDir, gguf, GgufTensorType.F32);
        return (modelDir, gguf);
    }

    /// <summary>An existing model directory (e.g. the bundled model) and its GGUF export in <paramref name="workDir"/>.</summary>
    public static (string ModelDir, string Gguf) Export(string modelDir, string workDir)
    {
        Directory.CreateDirectory(workDir);
        string gguf = Path.Combine(workDir, Path.GetFileName(Path.GetFullPath(modelDir).TrimEnd('/')) + "-f32.gguf");
        GgufExporter.Export(modelDir, gguf, GgufTensorType.F32);
        return (modelDir, gguf);
    }
}
