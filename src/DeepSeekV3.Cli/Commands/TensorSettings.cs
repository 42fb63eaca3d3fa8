using static TorchSharp.torch;

namespace DeepSeekV3.Cli.Commands;

/// <summary>Parses the device and dtype names the commands accept (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>;
/// <c>f32</c>, <c>bf16</c>, <c>f16</c>).</summary>
internal static class TensorSettings
{
    public static Device ParseDevice(string name)
    {
        string lower = name.Trim().ToLowerInvariant();
        if (lower == "cpu") return CPU;
        if (lower == "cuda" || lower.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new InvalidArgumentException($"device \"{name}\": CUDA is not available on this machine (TorchSharp-cpu build or no GPU)");
            return device(lower);
        }
        throw new InvalidArgumentException($"device \"{name}\" is unknown; expected cpu, cuda or cuda:N");
    }

    /// <param name="expected">The names the caller accepts, for the error (a command may take more than these).</param>
    public static ScalarType ParseDtype(string name, string expected = "f32, bf16 or f16") => name.Trim().ToLowerInvariant() switch
    {
        "f32" or "fp32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "f16" or "fp16" or "float16" => ScalarType.Float16,
        _ => throw new InvalidArgumentException($"dtype \"{name}\" is unknown; expected {expected}"),
    };

    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "f32",
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "f16",
        _ => dtype.ToString(),
    };

    /// <summary>Parses "1,2,3" into token ids, each in [0, vocabSize).</summary>
    public static long[] ParseTokens(string text, int vocabSize)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
            throw new InvalidArgumentException("--tokens: expected a comma-separated list of token ids, e.g. 1,2,3");
        return parts.Select(p => long.TryParse(p, out long id) && id >= 0 && id < vocabSize
            ? id
            : throw new InvalidArgumentException($"--tokens: \"{p}\" is not a token id in [0, {vocabSize})")).ToArray();
    }
}
