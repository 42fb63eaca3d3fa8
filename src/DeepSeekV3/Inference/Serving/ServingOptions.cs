namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// Limits of a <see cref="ServingEngine"/>, in vLLM's terms: how many sequences decode together
/// (<c>max_num_seqs</c>), the longest prompt + completion (<c>max_model_len</c>), and the KV-cache budget in tokens
/// (vLLM's blocks × block size). A request reserves its prompt + max_tokens worth of cache blocks when it is admitted
/// and gives them back when it finishes, so an admitted request never runs out of cache (no preemption needed).
/// </summary>
public sealed record ServingOptions
{
    /// <summary>Sequences in the decode batch at most; more wait in the queue.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Prompt + completion tokens of one request at most; null: the model's max_position_embeddings.</summary>
    public int? MaxContext { get; init; }

    /// <summary>Cache tokens all running requests may reserve together; null: <see cref="MaxBatch"/> × the context.</summary>
    public long? KvCacheTokens { get; init; }

    /// <summary>Requests that may wait for admission; one more is refused (<see cref="ServerBusyException"/>).</summary>
    public int MaxWaiting { get; init; } = 1024;

    /// <summary>Tokens per cache block.</summary>
    public int BlockSize { get; init; } = 64;

    /// <summary>Share full cache blocks across requests by prompt prefix (vLLM's automatic prefix caching): cached
    /// blocks no request holds count against <see cref="KvCacheTokens"/> and are evicted least recently used when a
    /// request needs room. Off under expert-parallel lockstep.</summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>Prompt tokens prefilled per loop turn at most, between decode steps of the running batch (vLLM's
    /// chunked prefill); 0: a whole prompt at once. Off under expert-parallel lockstep.</summary>
    public int PrefillChunk { get; init; } = DefaultPrefillChunk;

    /// <summary>256 tokens: on the bundled model a chunk costs about what a few decode steps of a full batch do, so
    /// a long prompt stretches the others' inter-token gaps by a few steps' time instead of its whole prefill
    /// (bench/ServeBench, README); shorter chunks pay LibTorch's fixed cost per forward too often.</summary>
    public const int DefaultPrefillChunk = 256;

    /// <summary>MTP speculative decoding, switched on and off per step by <see cref="MtpSpeculationRule"/> (always on
    /// under expert-parallel lockstep, whose ranks must take the same steps).</summary>
    public bool Speculative { get; init; }

    /// <summary>The fused decoder where the model allows it (false: LibTorch for every pass).</summary>
    public bool Fused { get; init; } = true;
}
