using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// Saves and loads <see cref="DeepSeekV3ForCausalLM"/> as an HF model directory: config.json plus safetensors
/// (sharded when large) with DeepSeek's exact tensor names, optionally FP8 E4M3 with 128×128 block scales.
/// Loading checks every tensor: a missing, unexpected or wrongly shaped tensor is a
/// <see cref="CheckpointFormatException"/> naming it, never a silently wrong model.
/// </summary>
public static class ModelCheckpoint
{
    public const string ConfigFile = "config.json";

    /// <summary>How to write: dtype of the high-precision tensors, FP8 block quantization, shard size.</summary>
    public sealed record SaveOptions
    {
        public ScalarType Dtype { get; init; } = ScalarType.BFloat16;
        public bool Fp8 { get; init; }
        public long MaxShardBytes { get; init; } = 5L << 30;
    }

    public static void Save(DeepSeekV3ForCausalLM model, string directory, SaveOptions? options = null)
    {
        options ??= new SaveOptions();
        using var scope = NewDisposeScope();
        var tensors = Tensors(model, options);
        Directory.CreateDirectory(directory);
        CheckpointWriter.Write(directory, tensors, options.MaxShardBytes, Metadata);
        SaveConfig(model, directory, options);
    }

    /// <summary>The "format: pt" metadata HF writes into every safetensors file of a model.</summary>
    public static IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>Writes config.json for a model saved with <paramref name="options"/> (dtype, FP8).</summary>
    public static void SaveConfig(DeepSeekV3ForCausalLM model, string directory, SaveOptions options) =>
        SaveConfig(model.Config, directory, options);

    /// <summary>Writes <paramref name="modelConfig"/> as config.json for a checkpoint saved with <paramref name="options"/>.</summary>
    public static void SaveConfig(ModelConfig modelConfig, string directory, SaveOptions options)
    {
        var config = modelConfig with
        {
            TorchDtype = options.Dtype == ScalarType.Float32 ? "float32" : "bfloat16",
            QuantizationConfig = options.Fp8 ? QuantizationConfig.DeepSeekFp8 : null,
        };
        config.Save(Path.Combine(directory, ConfigFile));
    }

    /// <summary>The tensors a checkpoint of <paramref name="model"/> holds, by checkpoint name, on the CPU in the
    /// stored dtype (FP8 weights with their scales, the MTP modules' copies of the shared embedding and head).
    /// Owned by the caller's dispose scope.</summary>
    public static List<(string Name, Tensor Tensor)> Tensors(DeepSeekV3ForCausalLM model, SaveOptions options)
    {
        using var _ = no_grad();
        var state = model.state_dict();
        var tensors = new List<(string Name, Tensor Tensor)>();
        foreach (var (name, value) in state)
        {
            var cpuValue = value.detach().cpu();
            if (options.Fp8 && HfTensorNames.IsFp8Weight(name))
            {
                var (weight, scale) = BlockQuantization.QuantizeWeight(cpuValue.to(ScalarType.Float32));
                tensors.Add((name, weight));
                tensors.Add((HfTensorNames.ScaleOf(name), scale));
            }
            else
            {
                // Router correction biases stay fp32, everything else takes the requested dtype
                // (docs/reference-notes.md#router-precision-and-the-correction-bias).
                bool keepFp32 = name.EndsWith("e_score_correction_bias", StringComparison.Ordinal);
                tensors.Add((name, keepFp32 ? cpuValue.to(ScalarType.Float32) : cpuValue.to(options.Dtype)));
            }
        }
        var byName = tensors.ToDictionary(t => t.Name, t => t.Tensor);
        foreach (var (stored, shared) in HfTensorNames.MtpSharedCopies(model.Config))
            tensors.Add((stored, byName[shared]));
        return tensors;
    }

    /// <summary>Reads config.json from <paramref name="directory"/> (validated).</summary>
    public static ModelConfig LoadConfig(string directory)
    {
        if (!Directory.Exists(directory))
            throw new CheckpointFormatException(directory, null, "model directory not found");
        return ModelConfig.Load(Path.Combine(directory, ConfigFile));
    }

    /// <summary>
    /// Builds the model of <paramref name="directory"/>'s config.json and fills it from the safetensors, tensor by
    /// tensor (FP8 weights are dequantized with their block scales), in <paramref name="dtype"/> on
    /// <paramref name="device"/>. The caller owns the model.
    /// </summary>
    public static DeepSeekV3ForCausalLM Load(string directory, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var config = LoadConfig(directory);
        using var reader = CheckpointReader.Open(directory);
        var model = new DeepSeekV3ForCausalLM(config);
        try
        {
            model.To(device ?? CPU, dtype);
            Fill(model, reader, directory);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static void Fill(DeepSeekV3ForCausalLM model, CheckpointReader reader, string directory)
    {
        var consumed = new HashSet<string>();
        var state = model.state_dict();
        var missing = state.Keys.Where(k => !reader.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new CheckpointFormatException(directory, missing[0],
                $"{missing.Count} tensor(s) the config requires are missing: {string.Join(", ", missing.Take(5))}" +
                (missing.Count > 5 ? ", ..." : ""));

        using var _ = no_grad();
        foreach (var (name, target) in state)
        {
            using var scope = NewDisposeScope();
            var value = ReadDequantized(reader, name, consumed);
            CheckShape(reader, name, target.shape, value.shape);
            target.copy_(value);
        }
        foreach (var (stored, shared) in HfTensorNames.MtpSharedCopies(model.Config))
        {
            // Stored copies of the shared embedding/head: engines use the main ones; we only check their shape.
            if (!reader.Contains(stored)) continue;
            CheckShape(reader, stored, state[shared].shape, reader.Info(stored).Shape);
            consumed.Add(stored);
        }
        var unexpected = reader.TensorNames.Where(n => !consumed.Contains(n)).ToList();
        if (unexpected.Count > 0)
            throw new CheckpointFormatException(reader.FileOf(unexpected[0]), unexpected[0],
                $"{unexpected.Count} tensor(s) do not belong to this config's model: {string.Join(", ", unexpected.Take(5))}" +
                (unexpected.Count > 5 ? ", ..." : ""));
    }

    private static Tensor ReadDequantized(CheckpointReader reader, string name, HashSet<string> consumed)
    {
        var value = reader.ReadDequantized(name, out var read);
        consumed.UnionWith(read);
        return value;
    }

    private static void CheckShape(CheckpointReader reader, string name, long[] expected, long[] found)
    {
        if (!expected.SequenceEqual(found))
            throw new CheckpointFormatException(reader.FileOf(name), name,
                $"expected shape [{string.Join(", ", expected)}] from the config, found [{string.Join(", ", found)}]");
    }
}
