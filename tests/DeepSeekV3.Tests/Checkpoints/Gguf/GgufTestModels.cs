using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints.Gguf;

/// <summary>Random tiny models for GGUF export tests, chosen to dodge the llama.cpp pitfalls in the reference note.</summary>
internal static class GgufTestModels
{
    /// <summary>
    /// Like <see cref="ModelPresets.Tiny"/> (YaRN active, groups, shared expert, a dense first layer, MTP), but with
    /// MLA dims for which every latent size differs from its per-head twin (key_length 32 ≠ key_length_mla 24,
    /// value_length 24 ≠ v_head_dim 12), so a swapped key cannot pass; 3 layers is not a "lite" count.
    /// </summary>
    public static ModelConfig PeerConfig { get; } = ModelPresets.Tiny with
    {
        VocabSize = 320, IntermediateSize = 128,
        QLoraRank = 32, KvLoraRank = 24, QkNopeHeadDim = 16, QkRopeHeadDim = 8, VHeadDim = 12,
    };

    /// <summary>
    /// A model with N(0, std²) weights and router correction biases uniform in [0, 0.5]: positive, so s + b > 0
    /// and dropped groups are masked the same way by any engine, yet large enough to change expert choices.
    /// The caller owns the model.
    /// </summary>
    public static DeepSeekV3ForCausalLM Create(ModelConfig config, long seed = 11, double std = 0.08)
    {
        var model = new DeepSeekV3ForCausalLM(config);
        WeightInitializer.Initialize(model, seed, std);
        using var generator = new Generator((ulong)seed + 1);
        foreach (var layer in model.Model.Layers)
            if (layer.Moe?.Gate is { ExpertScoreCorrectionBias: not null } router)
            {
                using var bias = rand(config.NRoutedExperts, generator: generator) * 0.5;
                router.SetCorrectionBias(bias);
            }
        model.eval();
        return model;
    }

    /// <summary>Saves <paramref name="model"/> as an fp32 (or FP8 block-scaled) HF directory.</summary>
    public static string Save(DeepSeekV3ForCausalLM model, string directory, bool fp8 = false)
    {
        ModelCheckpoint.Save(model, directory, new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32, Fp8 = fp8 });
        return directory;
    }
}
