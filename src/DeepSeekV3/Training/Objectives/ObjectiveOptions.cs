using DeepSeekV3.Modeling;

namespace DeepSeekV3.Training.Objectives;

/// <summary>What the training loss is made of (report §2.1.2, §2.2).</summary>
public sealed record ObjectiveOptions
{
    /// <summary>D: how many MTP modules contribute (≤ the model's num_nextn_predict_layers; 0 = no MTP loss;
    /// null = all of the model's).</summary>
    public int? MtpDepth { get; init; }

    public BalanceMode Balance { get; init; } = BalanceMode.AuxFree;

    /// <summary>α of the complementary sequence-wise balance loss (aux-free mode; report 0.0001).</summary>
    public double SequenceBalanceAlpha { get; init; } = 0.0001;

    /// <summary>α of the baseline's auxiliary loss (aux-loss mode; HF config's aux_loss_alpha is 0.001).</summary>
    public double AuxLossAlpha { get; init; } = 0.001;

    /// <summary>Aux-loss baseline: per sequence (HF's seq_aux) or over the whole micro-batch.</summary>
    public bool AuxLossSequenceWise { get; init; } = true;

    public RecomputeMode Recompute { get; init; } = RecomputeMode.None;

    public double BalanceAlpha => Balance == BalanceMode.AuxFree ? SequenceBalanceAlpha : AuxLossAlpha;
    public bool BalanceSequenceWise => Balance == BalanceMode.AuxFree || AuxLossSequenceWise;
}
