using DeepSeekV3.Modeling;

namespace DeepSeekV3.Inference;

/// <summary>
/// One request with MTP speculative decoding: a <see cref="GenerationEngine"/> with <c>speculative: true</c> (see
/// <see cref="MtpSpeculativeDecoding"/> for the method).
/// </summary>
public sealed class MtpSpeculativeDecoder(DeepSeekV3ForCausalLM model, AttentionMode mode = AttentionMode.Absorbed, bool fused = true)
{
    private readonly GenerationEngine _engine = new(model, mode, fused: fused, speculative: true);

    /// <summary>Generates one request; <paramref name="onToken"/> returns false to stop (a stop string matched).</summary>
    public GenerationResult Generate(GenerationRequest request, Func<long, bool>? onToken = null) =>
        _engine.Generate([request], onToken is null ? null : (_, token) => onToken(token))[0];
}
