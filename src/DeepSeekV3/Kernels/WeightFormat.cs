namespace DeepSeekV3.Kernels;

/// <summary>How a <see cref="WeightMatrix"/>'s elements are stored.</summary>
public enum WeightFormat
{
    /// <summary>fp32, 4 bytes per weight.</summary>
    F32,

    /// <summary>bfloat16, 2 bytes per weight (the upper half of an fp32, widened exactly).</summary>
    Bf16,

    /// <summary>
    /// float8_e4m3fn, 1 byte per weight, with one fp32 multiplier per 128×128 block ([ceil(rows/128),
    /// ceil(columns/128)], row-major): DeepSeek-V3's checkpoint format, <c>weight</c> plus <c>weight_scale_inv</c>
    /// (<see cref="Precision.BlockQuantization"/>); W[i, j] = fp8[i, j] · scale[i / 128, j / 128].
    /// </summary>
    Fp8E4M3,
}
