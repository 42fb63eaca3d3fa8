namespace DeepSeekV3.Inference.Serving;

/// <summary>Where a <see cref="ServingEngine"/> with prefill/decode separation gets its prefills: in-process
/// <see cref="PrefillWorkers"/>, or a prefill process over HTTP.</summary>
public interface IPrefillSource
{
    /// <summary>Prefills <paramref name="request"/>'s prompt and draws its first token. Fails with
    /// <see cref="ServerBusyException"/> when the prefill queue is full.</summary>
    Task<PrefilledRequest> PrefillAsync(GenerationRequest request, CancellationToken cancellation);
}
