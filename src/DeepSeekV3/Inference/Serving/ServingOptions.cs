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

    /// <summary>MTP speculative decoding instead of plain steps.</summary>
    public bool Speculative { get; init; }

    /// <summary>The fused decoder where the model allows it (false: LibTorch for every pass).</summary>
    public bool Fused { get; init; } = true;
}
