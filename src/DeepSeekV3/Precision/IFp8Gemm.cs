using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// An FP8 GEMM with fine-grained scales, D = A·Bᵀ in DeepGEMM's "NT" layout: A [M, K] and B [N, K], both quantized
/// in tiles 128 wide along K (A 1×128 or 128×128, B 128×128 or 1×128: DeepGEMM's 1D2D and 1D1D kernels). Returns D
/// [M, N] float32, owned by the caller. <see cref="EmulatedFp8Gemm"/> reproduces the numbers of an H800's tensor
/// cores on the CPU; a GPU FP8 GEMM (DeepGEMM through a native binding) would implement the same contract.
/// </summary>
public interface IFp8Gemm
{
    Tensor Multiply(QuantizedMatrix a, QuantizedMatrix b);
}
