using System.CommandLine;

namespace DeepSeekV3.Cli.Commands;

/// <summary>Options several commands share, spelled the same everywhere.</summary>
internal static class CliOptions
{
    public static Option<string> Model(bool required = true) => new("--model", "-m")
    {
        Description = required ? "Model directory (config.json + safetensors)"
                               : "Model directory (config.json + safetensors + tokenizer); default: the bundled model",
        Required = required,
    };

    /// <summary>The bundled model: models/default in the repository the CLI was built from, else in the working directory.</summary>
    public static string DefaultModelDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", "default");
            if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
        }
        return Path.Combine("models", "default");
    }

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<string> Dtype(string defaultValue) => new("--dtype")
    {
        Description = "f32, bf16 or f16",
        DefaultValueFactory = _ => defaultValue,
    };

    /// <summary>--threads N for the commands that run a model: LibTorch's threads and the fused decoder's team.</summary>
    public static Option<int> Threads() => new("--threads")
    {
        Description = "Compute threads: LibTorch's and the fused decoder's (0: LibTorch's default, the machine's cores)",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>Applies <see cref="Threads"/>: a positive count becomes LibTorch's thread count, which the fused
    /// decoder's team follows; 0 leaves the default.</summary>
    public static void ApplyThreads(int threads)
    {
        if (threads < 0) throw new InvalidArgumentException($"--threads {threads}: expected 0 (LibTorch's default) or a positive count");
        if (threads > 0) TorchSharp.torch.set_num_threads(threads);
    }

    /// <summary>--weights stored|fp8|bf16|f32: run on the fused decoder straight from the checkpoint's weights, no
    /// LibTorch model (<see cref="Inference.Fused.WeightsMode"/>).</summary>
    public static Option<string?> Weights() => new("--weights")
    {
        Description = "Decode on the fused C# decoder from the checkpoint's weights without a LibTorch model: stored (memory-mapped, " +
                      "FP8/BF16 as saved), fp8 (block linears quantized to 128x128-scaled E4M3 at load), bf16 or f32 (converted at load)",
    };

    /// <summary>The mode of <see cref="Weights"/>, or null when the option is absent. The fused decoder runs on the
    /// CPU only, so <paramref name="device"/> must be cpu.</summary>
    public static Inference.Fused.WeightsMode? ParseWeights(string? value, string device) =>
        value is not null && device != "cpu"
            ? throw new InvalidArgumentException($"--weights runs the fused decoder on the CPU; drop --device {device} or --weights")
            : ParseWeights(value);

    private static Inference.Fused.WeightsMode? ParseWeights(string? value) => value switch
    {
        null => null,
        "stored" => Inference.Fused.WeightsMode.Stored,
        "fp8" => Inference.Fused.WeightsMode.Fp8,
        "bf16" => Inference.Fused.WeightsMode.Bf16,
        "f32" => Inference.Fused.WeightsMode.F32,
        _ => throw new InvalidArgumentException($"--weights {value}: expected stored, fp8, bf16 or f32"),
    };

    public static Option<string> Tokens(bool required = true) => new("--tokens")
    {
        Description = "Comma-separated token ids, e.g. 1,2,3",
        Required = required,
    };

    public static Option<string> Attention() => new("--attention")
    {
        Description = "MLA evaluation: absorbed (latent cache) or naive (per-head keys and values)",
        DefaultValueFactory = _ => "absorbed",
    };

    public static DeepSeekV3.Modeling.AttentionMode ParseAttention(string value) => value.ToLowerInvariant() switch
    {
        "absorbed" or "absorb" => DeepSeekV3.Modeling.AttentionMode.Absorbed,
        "naive" => DeepSeekV3.Modeling.AttentionMode.Naive,
        _ => throw new InvalidArgumentException($"--attention \"{value}\": expected absorbed or naive"),
    };
}
