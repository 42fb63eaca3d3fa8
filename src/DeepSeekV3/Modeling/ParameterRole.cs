namespace DeepSeekV3.Modeling;

/// <summary>How <see cref="WeightInitializer"/> fills a tensor of the model (report §4.2).</summary>
public enum ParameterRole
{
    /// <summary>A learnable matrix (projections, experts, router, embedding, head): N(0, std²).</summary>
    Matrix,

    /// <summary>An RMSNorm weight: all ones.</summary>
    Norm,

    /// <summary>The router's expert-score correction bias (a buffer, not learned by gradient): all zeros.</summary>
    CorrectionBias,
}
