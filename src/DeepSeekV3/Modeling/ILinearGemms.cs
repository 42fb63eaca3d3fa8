using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The three GEMMs of a bias-free linear layer y = x·Wᵀ on 2-D operands (report Fig. 6): Fprop, Dgrad (input
/// gradient) and Wgrad (weight gradient), in some precision. <see cref="DeferrableLinear"/> runs them as one autograd
/// function. Every returned tensor is new and float32, owned by the caller.
/// </summary>
internal interface ILinearGemms
{
    /// <summary>x [T, in], weight [out, in] → y [T, out], and the tensors backward needs (kept by autograd).</summary>
    Tensor Forward(Tensor x, Tensor weight, out Tensor[] saved);

    /// <summary>Forward when x also arrives already quantized (the MoE's FP8 dispatch, shared by gate_proj and
    /// up_proj): a precision that multiplies in FP8 uses <paramref name="quantizedInput"/>, any other ignores it.</summary>
    Tensor Forward(Tensor x, Precision.QuantizedMatrix quantizedInput, Tensor weight, out Tensor[] saved) =>
        Forward(x, weight, out saved);

    /// <summary>dL/dy [T, out] → dL/dx [T, in].</summary>
    Tensor InputGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved);

    /// <summary>dL/dy [T, out] → dL/dW [out, in].</summary>
    Tensor WeightGradient(Tensor gradOutput, IReadOnlyList<Tensor> saved);
}
