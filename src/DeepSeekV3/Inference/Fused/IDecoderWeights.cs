using DeepSeekV3.Kernels;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// Where the <see cref="FusedDecoder"/> finds a model's weights, by their checkpoint (HF) names
/// ("model.layers.3.self_attn.kv_b_proj.weight"): the TorchSharp model's parameters (<see cref="TensorWeights"/>) or a
/// checkpoint's memory (<see cref="MappedCheckpointWeights"/>), or tensors converted at load
/// (<see cref="CheckpointWeights"/>). The views stay valid until the source is disposed.
/// </summary>
public interface IDecoderWeights : IDisposable
{
    /// <summary>A 2-D weight; FP8 E4M3 ones come with their <c>weight_scale_inv</c> grid. Throws
    /// <see cref="Checkpoints.TensorNotFoundException"/> when absent.</summary>
    WeightMatrix Matrix(string name);

    /// <summary>A 1-D tensor (a norm's weight, the router's correction bias) as fp32, or null when absent.</summary>
    float[]? Vector(string name);
}
