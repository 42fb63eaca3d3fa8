using System.Text.Json.Serialization;

namespace DeepSeekV3.Configuration;

/// <summary>
/// The <c>quantization_config</c> block of an FP8 checkpoint (docs/reference-notes.md#checkpoint-format): linear
/// weights stored as float8_e4m3fn with one fp32 <c>weight_scale_inv</c> multiplier per <c>weight_block_size</c>
/// block.
/// </summary>
public sealed record QuantizationConfig
{
    [JsonPropertyName("activation_scheme")] public string ActivationScheme { get; init; } = "dynamic";
    [JsonPropertyName("fmt")] public string Format { get; init; } = "e4m3";
    [JsonPropertyName("quant_method")] public string QuantMethod { get; init; } = "fp8";
    [JsonPropertyName("weight_block_size")] public int[] WeightBlockSize { get; init; } = [128, 128];

    /// <summary>DeepSeek-V3's published FP8 layout.</summary>
    public static QuantizationConfig DeepSeekFp8 => new();
}
