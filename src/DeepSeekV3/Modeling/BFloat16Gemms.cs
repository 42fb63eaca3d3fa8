using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Autocast's linear: x and W rounded to bfloat16 (W from its float32 master copy), multiplied with float32
/// accumulation, the product rounded to bfloat16 and handed on as float32; backward the same way, with the weight
/// gradient accumulated into the float32 master gradient. Saves the bfloat16 copies (half the bytes of x).
/// </summary>
internal sealed class BFloat16Gemms : ILinearGemms
{
    public static BFloat16Gemms Instance { get; } = new();

    public Tensor Forward(Tensor x, Tensor weight, out Tensor[] saved)
    {
        var (x16, w16) = (x.to_type(ScalarType.BFloat16), weight.to_type(ScalarType.BFloat16));
        saved = [x16, w16];
        return nn.functional.linear(x16, w16).to_type(ScalarType.Float32);
    }

    public Tensor InputGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved) =>
        gradOutput.to_type(ScalarType.BFloat16).matmul(saved[1]).to_type(ScalarType.Float32);

    public Tensor WeightGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved) =>
        gradOutput.to_type(ScalarType.BFloat16).t().matmul(saved[0]).to_type(ScalarType.Float32);
}
