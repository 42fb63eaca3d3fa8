using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>LibTorch's float32 linear and its two backward products; saves x and W.</summary>
internal sealed class Float32Gemms : ILinearGemms
{
    public static Float32Gemms Instance { get; } = new();

    public Tensor Forward(Tensor x, Tensor weight, out Tensor[] saved)
    {
        saved = [x, weight];
        return nn.functional.linear(x, weight);
    }

    public Tensor InputGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved) => gradOutput.matmul(saved[1]);

    public Tensor WeightGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved) => gradOutput.t().matmul(saved[0]);
}
