namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// What a <see cref="ServingEngine"/> has done, counted as vLLM counts it (docs/design/metrics.md): tokens in and
/// out, prefix-cache queries and hits in tokens, speculative drafts and accepted tokens, finished requests by reason,
/// and latency histograms. The generation loop writes; any thread reads.
/// </summary>
public sealed class ServingMetrics
{
    private long _handedOver, _transferBytes, _promptTokens, _generationTokens, _prefixCacheQueries, _prefixCacheHits, _drafts, _accepted;
    private readonly long[] _finished = new long[Enum.GetValues<FinishReason>().Length];

    /// <summary>Prompt tokens of admitted requests (vllm:prompt_tokens_total).</summary>
    public long PromptTokens => Interlocked.Read(ref _promptTokens);

    /// <summary>Tokens generated (vllm:generation_tokens_total).</summary>
    public long GenerationTokens => Interlocked.Read(ref _generationTokens);

    /// <summary>Prompt tokens looked up in a prefix cache, and those found (vllm:prefix_cache_queries / _hits).</summary>
    public long PrefixCacheQueries => Interlocked.Read(ref _prefixCacheQueries);

    public long PrefixCacheHits => Interlocked.Read(ref _prefixCacheHits);

    /// <summary>MTP drafts proposed (one token each) and accepted (vllm:spec_decode_num_drafts_total, ..._num_accepted_tokens_total).</summary>
    public long SpecDecodeDrafts => Interlocked.Read(ref _drafts);

    public long SpecDecodeAcceptedTokens => Interlocked.Read(ref _accepted);

    /// <summary>Requests that finished for <paramref name="reason"/> (vllm:request_success_total, cancelled ones apart).</summary>
    public long Finished(FinishReason reason) => Interlocked.Read(ref _finished[(int)reason]);

    /// <summary>Arrival to first token (vllm:time_to_first_token_seconds).</summary>
    public Histogram TimeToFirstToken { get; } = new(Histogram.LatencySeconds);

    /// <summary>Between consecutive tokens of a request (vllm:inter_token_latency_seconds).</summary>
    public Histogram InterTokenLatency { get; } = new(Histogram.LatencySeconds);

    /// <summary>Arrival to the last token (vllm:e2e_request_latency_seconds).</summary>
    public Histogram EndToEndLatency { get; } = new(Histogram.LatencySeconds);

    /// <summary>Arrival to admission into the batch (vllm:request_queue_time_seconds).</summary>
    public Histogram QueueTime { get; } = new(Histogram.LatencySeconds);

    /// <summary>Prefills handed over to this decode loop (prefill/decode separation) and the cache-row bytes they
    /// carried (dsv3:kv_transfer_bytes_total).</summary>
    public long PrefillsHandedOver => Interlocked.Read(ref _handedOver);

    public long KvTransferBytes => Interlocked.Read(ref _transferBytes);

    /// <summary>Arrival to the prefill handed over: prefill queue, prefill pass and transfer (dsv3:prefill_handover_seconds).</summary>
    public Histogram PrefillHandover { get; } = new(Histogram.LatencySeconds);

    internal void HandedOver(long bytes, double seconds)
    {
        Interlocked.Increment(ref _handedOver);
        Interlocked.Add(ref _transferBytes, bytes);
        PrefillHandover.Observe(seconds);
    }

    internal void Admitted(int promptTokens, int cachedTokens)
    {
        Interlocked.Add(ref _promptTokens, promptTokens);
        Interlocked.Add(ref _prefixCacheQueries, promptTokens);
        Interlocked.Add(ref _prefixCacheHits, cachedTokens);
    }

    internal void Generated(int tokens) => Interlocked.Add(ref _generationTokens, tokens);

    internal void Completed(GenerationResult result)
    {
        Interlocked.Increment(ref _finished[(int)result.FinishReason]);
        Interlocked.Add(ref _drafts, result.DraftedTokens);
        Interlocked.Add(ref _accepted, result.AcceptedTokens);
    }
}
