namespace DeepSeekV3.Inference;

/// <summary>
/// How a <see cref="GenerationBatch"/> turns model passes into tokens: plain one-token steps
/// (<see cref="PlainDecoding"/>) or MTP speculative decoding (<see cref="MtpSpeculativeDecoding"/>). The batch owns the
/// loop, the sequences and the cache; a strategy owns only what it keeps between steps.
/// </summary>
internal interface IDecodingStrategy : IDisposable
{
    /// <summary>Cache layers a sequence needs (the main blocks, plus the MTP module's when drafting).</summary>
    int CacheLayers { get; }

    /// <summary>Prefills the next <paramref name="tokens"/> prompt tokens after those the cache holds
    /// (<see cref="GenerationSequence.PrefilledTokens"/>); once the whole prompt is in, emits the first token.</summary>
    void Prefill(GenerationSequence sequence, int tokens);

    /// <summary>One token boundary for running sequences that share a cache: each emits one or more tokens.</summary>
    void Step(IReadOnlyList<GenerationSequence> running);

    /// <summary>Drops what the strategy keeps for a sequence that was cancelled between steps.</summary>
    void Forget(GenerationSequence sequence);
}
