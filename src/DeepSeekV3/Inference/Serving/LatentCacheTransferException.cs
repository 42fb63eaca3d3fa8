namespace DeepSeekV3.Inference.Serving;

/// <summary>A prefilled request's frame that cannot be continued here: truncated, malformed, of another format
/// version, or made by another model (<see cref="ModelMismatch"/>).</summary>
public sealed class LatentCacheTransferException(string problem, bool modelMismatch = false)
    : DeepSeekV3Exception($"latent cache transfer: {problem}")
{
    public bool ModelMismatch { get; } = modelMismatch;
}
