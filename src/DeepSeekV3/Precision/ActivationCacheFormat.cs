namespace DeepSeekV3.Precision;

/// <summary>How an FP8 projection keeps its input x for the weight gradient (report §3.3.3 "Low-Precision Storage").</summary>
public enum ActivationCacheFormat
{
    /// <summary>The E4M3 codes and 1×128 scales the Fprop quantized x into (1 byte per element plus the scales).</summary>
    E4M3,

    /// <summary>x rounded to <see cref="E5M6Format"/> (2 bytes per element here): the report's format for the input of
    /// the Linear after attention, where it is also what attention's backward reads, so precision matters more. Kept
    /// without tile scales: the report's scales there are powers of two, which commute with the rounding, and unscaled
    /// E5M6 already spans 2^−20 … 65024.</summary>
    E5M6,
}
