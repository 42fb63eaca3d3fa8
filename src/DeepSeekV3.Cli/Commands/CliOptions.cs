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
