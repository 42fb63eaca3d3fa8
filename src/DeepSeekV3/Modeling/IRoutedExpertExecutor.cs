using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Runs the routed half of a DeepSeekMoE layer (report eq. 12, the Σ_i g_i · FFN_i(u) term): where the chosen
/// experts live and how the tokens reach them is the executor's business, the sum is not. The default,
/// <see cref="LocalExpertExecutor"/>, holds every expert in this process; an expert-parallel executor
/// (Distributed/) sends tokens to the ranks that own their experts. Both must give the same sum up to fp32
/// reduction order, and both must keep it differentiable (experts, tokens and router weights).
/// </summary>
public interface IRoutedExpertExecutor
{
    /// <summary>
    /// tokens: [N, hidden] in the model's dtype; route: the router's decision for those tokens.
    /// Returns Σ_k w_{t,k} · expert_{i_{t,k}}(u_t) as fp32 [N, hidden] (accumulated in fp32, cast by the caller).
    /// The caller owns the result.
    /// </summary>
    Tensor RoutedSum(MixtureOfExperts moe, Tensor tokens, RouterOutput route);
}
