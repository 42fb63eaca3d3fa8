using DeepSeekV3.Checkpoints;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// <see cref="IDecoderWeights"/> over CPU tensors by name: a model's state dict (<see cref="Of"/>) or tensors read from
/// a checkpoint, fp32, bf16, or float8_e4m3fn beside <c>name_scale_inv</c>. Holds the tensors (not copies), so the
/// views see their memory for as long as this lives and the tensors are not replaced. <paramref name="owned"/>: the
/// tensors are this object's, disposed with it (a model's stay the model's).
/// </summary>
public sealed class TensorWeights(IReadOnlyDictionary<string, Tensor> tensors, string location, bool owned = false) : IDecoderWeights
{
    /// <summary>Bytes of the tensors held.</summary>
    public long Bytes => tensors.Values.Sum(t => t.NumberOfElements * t.ElementSize);

    public void Dispose()
    {
        if (!owned) return;
        foreach (var t in tensors.Values) t.Dispose();
    }

    /// <summary>The parameters and buffers of <paramref name="model"/> under their checkpoint names.</summary>
    public static TensorWeights Of(DeepSeekV3ForCausalLM model) => new(model.state_dict(), "the model");

    public WeightMatrix Matrix(string name)
    {
        var weight = Find(name) ?? throw new TensorNotFoundException(location, name);
        if (weight.dtype != Float8E4M3.TorchType) return new WeightMatrix(weight, name);
        string scaleName = HfTensorNames.ScaleOf(name);
        return new WeightMatrix(weight, Find(scaleName) ?? throw new TensorNotFoundException(location, scaleName), name);
    }

    public float[]? Vector(string name)
    {
        if (Find(name) is not { } t) return null;
        using var f = t.detach().to(ScalarType.Float32).cpu().contiguous();
        return f.data<float>().ToArray();
    }

    private Tensor? Find(string name) => tensors.TryGetValue(name, out var t) ? t : null;
}
