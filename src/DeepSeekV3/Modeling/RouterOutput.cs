using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// One router decision for N tokens. Weights [N, K] (fp32; renormalized and scaled by routed_scaling_factor),
/// Indices [N, K] (int64 expert ids), Scores [N, E] (fp32 affinities s_{i,t} before bias, for balance losses).
/// </summary>
public sealed record RouterOutput(Tensor Weights, Tensor Indices, Tensor Scores) : IDisposable
{
    public void Dispose()
    {
        Weights.Dispose();
        Indices.Dispose();
        Scores.Dispose();
    }
}
