using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>What a <see cref="TrainingPrecision"/> implies for the rest of training, unless asked otherwise.</summary>
public static class TrainingPrecisionDefaults
{
    /// <summary>AdamW's moment storage: bfloat16 for bfloat16 and FP8 training (report §3.3.3, "Low-Precision
    /// Optimizer States"; master weights and gradients stay float32), float32 for float32 training.</summary>
    public static ScalarType MomentDtype(this TrainingPrecision precision) =>
        precision == TrainingPrecision.Float32 ? ScalarType.Float32 : ScalarType.BFloat16;
}
