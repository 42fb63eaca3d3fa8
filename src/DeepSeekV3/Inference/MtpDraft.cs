namespace DeepSeekV3.Inference;

/// <summary>
/// The MTP proposal a prefilled request carries to the process that decodes it (speculative decoding with
/// prefill/decode separation): the draft token after the first token, and the distribution it was drawn from
/// (<see cref="Sampler.Distribution"/>, fp32 [vocab]; one-hot when greedy), which verification compares against the
/// main model's. The MTP module's cache entries for the prompt travel with the main ones in
/// <see cref="PrefilledRequest.Rows"/>.
/// </summary>
public sealed record MtpDraft(long Token, float[] Distribution);
