namespace DeepSeekV3.Precision;

/// <summary>
/// What the model's matrix multiplications compute in during training (report §3.3; `dsv3 train --precision`).
/// Master weights and their gradients stay float32 in every mode.
/// </summary>
public enum TrainingPrecision
{
    /// <summary>Everything float32 (LibTorch's own linear).</summary>
    Float32,

    /// <summary>The report's baseline: every matmul (projections, attention core, output head) in bfloat16 with
    /// float32 accumulation, like PyTorch's autocast; outputs rounded to bfloat16.</summary>
    BFloat16,

    /// <summary>The report's FP8 recipe: the projections' Fprop, Dgrad and Wgrad in FP8 with fine-grained scales
    /// (<see cref="Fp8Recipe"/>); embedding, output head, gating, norms, attention core and MoE combine as in BFloat16.</summary>
    Fp8,
}
