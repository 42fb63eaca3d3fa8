using static TorchSharp.torch;

namespace DeepSeekV3.Training.Objectives;

/// <summary>
/// One micro-batch's loss. Total (scaled, attached to autograd) = scale · (Main + λ/D Σ_k MtpByDepth[k] + α Σ_layers
/// L_Bal); the parts are detached values for logging: Main next-token cross-entropy, Mtp = mean over depths of
/// L_MTP^k (unweighted), Balance = Σ over MoE layers of L_Bal (without α). The caller owns and disposes them.
/// </summary>
public sealed record LossParts(Tensor Total, Tensor Main, Tensor Mtp, Tensor Balance) : IDisposable
{
    public void Dispose()
    {
        Total.Dispose();
        Main.Dispose();
        Mtp.Dispose();
        Balance.Dispose();
    }
}
