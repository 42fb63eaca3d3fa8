namespace DeepSeekV3.Training.Objectives;

/// <summary>How expert load is balanced during training.</summary>
public enum BalanceMode
{
    /// <summary>DeepSeek-V3: per-expert bias updated by the sign rule after every step, plus the complementary
    /// sequence-wise balance loss with a tiny α (report §2.1.2, 0.0001).</summary>
    AuxFree,

    /// <summary>Baseline: a classic auxiliary balance loss with a larger α and no bias updates (biases stay 0).</summary>
    AuxLoss,
}
