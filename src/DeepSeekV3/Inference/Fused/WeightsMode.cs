namespace DeepSeekV3.Inference.Fused;

/// <summary>How a checkpoint's weights are held for the fused decoder (<c>--weights</c>).</summary>
public enum WeightsMode
{
    /// <summary>As stored, memory-mapped and used in place: FP8 stays FP8 with its block scales, BF16 stays BF16.</summary>
    Stored,

    /// <summary>The block Linear weights quantized at load to 128×128 block-scaled E4M3 (kept as stored if they are
    /// already); embeddings, head, norms, router and eh_proj stay as stored (DeepSeek-V3's choice, report §3.3).</summary>
    Fp8,

    /// <summary>Every weight converted to bfloat16 (FP8 ones dequantized with their scales).</summary>
    Bf16,

    /// <summary>Every weight converted to fp32.</summary>
    F32,
}
