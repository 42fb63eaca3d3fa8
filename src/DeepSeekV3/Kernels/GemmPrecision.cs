namespace DeepSeekV3.Kernels;

/// <summary>The arithmetic <see cref="TileGemm"/> multiplies in (the weights are dequantized to it tile by tile).</summary>
public enum GemmPrecision
{
    /// <summary>Inputs and weight tiles rounded to bfloat16, fp32 accumulation, each output rounded to bfloat16:
    /// LibTorch's BF16 GEMM, about 2.5× its fp32 rate on a CPU with AVX512-BF16. ~1e-2 relative to fp32.</summary>
    Bf16,

    /// <summary>Everything fp32: exact to the dequantized weights up to summation order.</summary>
    F32,
}
