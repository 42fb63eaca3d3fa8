using System.Diagnostics;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// Continuous batching for a server: ONE background thread owns the model and a <see cref="GenerationBatch"/>, and
/// loops: drop cancelled requests (their cache blocks come back at once), admit waiting ones in arrival order while
/// the batch has room and the KV budget covers their reservation (each is prefilled as it joins: from its prompt's
/// longest prefix-cached run of full blocks, and only its first chunk when the prompt is long), then advance every
/// running sequence by one token boundary (and the next chunk of a prompt still going in). Each request's tokens, text (stop strings applied on the loop thread, so a
/// request stops at exactly the token that completes a stop string) and log-probabilities stream to its caller
/// through a channel. A request that can never fit (longer than the context, or than the whole KV budget) is refused
/// at <see cref="Submit"/>. Requests are isolated: each sequence has its own cache entries (shared prefix blocks are
/// read-only, and equal to what it would have computed) and its own seeded sampler, so a request's text does not
/// depend on what runs beside it.
/// </summary>
public sealed class ServingEngine : IDisposable
{
    private readonly ByteLevelBpeTokenizer _tokenizer;
    private readonly GenerationBatch _batch;
    private readonly Thread _loop;
    private readonly object _gate = new();                // guards _waiting and _stopping; the loop waits on it (Monitor)
    private readonly Queue<ServingEntry> _waiting = new();
    private readonly List<ServingEntry> _running = [];     // the loop thread's alone
    private readonly long _budgetBlocks;
    private long _reservedBlocks;
    private bool _stopping;
    private volatile int _runningCount, _cacheBlocksInUse, _prefixCachedBlocks;
    private readonly BatchLockstep? _lockstep;
    private readonly IPrefillSource? _prefill;
    private int _admitted, _prefilling;

    /// <summary>Starts the generation loop on <paramref name="model"/>, which the engine uses alone from now on.
    /// <paramref name="backend"/> makes the batch's backend (e.g. expert-parallel passes); with
    /// <paramref name="lockstep"/> every decision is announced first, for ranks whose batches must follow. With
    /// <paramref name="prefill"/> (prefill/decode separation), prompts are prefilled there and this loop only decodes:
    /// a request joins the queue once its prefill is handed over.</summary>
    public ServingEngine(DeepSeekV3ForCausalLM model, ByteLevelBpeTokenizer tokenizer, ServingOptions? options = null,
        Func<ForwardBackend>? backend = null, BatchLockstep? lockstep = null, IPrefillSource? prefill = null)
        : this(model, model.Config, tokenizer, options, backend, lockstep, prefill)
    {
    }

    /// <summary>Starts the generation loop on a backend that runs without a LibTorch model (the fused decoder over a
    /// checkpoint's own weights, <c>dsv3 serve --weights</c>): prefill/decode separation and expert parallelism need
    /// the model, so neither is offered here.</summary>
    public ServingEngine(ModelConfig config, Func<ForwardBackend> backend, ByteLevelBpeTokenizer tokenizer, ServingOptions? options = null)
        : this(null, config, tokenizer, options, backend, lockstep: null, prefill: null)
    {
    }

    private ServingEngine(DeepSeekV3ForCausalLM? model, ModelConfig config, ByteLevelBpeTokenizer tokenizer, ServingOptions? options,
        Func<ForwardBackend>? backend, BatchLockstep? lockstep, IPrefillSource? prefill)
    {
        if (lockstep is not null && prefill is not null)
            throw new InvalidArgumentException("prefill/decode separation and expert-parallel serving do not combine yet");
        _lockstep = lockstep;
        _prefill = prefill;
        Identity = prefill is null ? "" : ModelIdentity.Of(model!);
        Options = options ?? new ServingOptions();
        int modelContext = config.MaxPositionEmbeddings;
        MaxContext = Options.MaxContext ?? modelContext;
        if (MaxContext < 2 || MaxContext > modelContext)
            throw new InvalidArgumentException($"max context {MaxContext} must be in [2, {modelContext}] (the model's max_position_embeddings)");
        if (Options.MaxBatch < 1) throw new InvalidArgumentException($"max batch {Options.MaxBatch} must be >= 1");
        long budgetTokens = Options.KvCacheTokens ?? (long)Options.MaxBatch * MaxContext;
        if (budgetTokens < 1) throw new InvalidArgumentException($"KV cache budget {budgetTokens} tokens must be >= 1");
        _budgetBlocks = budgetTokens / Options.BlockSize;
        _tokenizer = tokenizer;
        if (Options.PrefillChunk < 0) throw new InvalidArgumentException($"prefill chunk {Options.PrefillChunk} must be >= 0 (0: off)");
        // Lockstep followers must run the same passes: a prefix hit on one rank and not another would desynchronize them.
        // The same holds for MTP on/off decisions, which follow timings: under lockstep every step speculates.
        bool plainPrefill = lockstep is null;
        Speculation = Options.Speculative && lockstep is null ? new MtpSpeculationRule() : null;
        _batch = new GenerationBatch(model, blockSize: Options.BlockSize, fused: Options.Fused, speculative: Options.Speculative,
            backend: backend, prefixCaching: Options.PrefixCaching && plainPrefill, prefillChunk: plainPrefill ? Options.PrefillChunk : 0,
            speculationPolicy: Speculation);
        _loop = new Thread(Run) { Name = "dsv3 generation loop", IsBackground = true };
        _loop.Start();
    }

    public ServingOptions Options { get; }

    /// <summary>Prompt + completion tokens of one request at most.</summary>
    public int MaxContext { get; }

    /// <summary>Cache tokens all running requests may reserve together (whole blocks).</summary>
    public long KvCacheTokens => _budgetBlocks * Options.BlockSize;

    public ServingMetrics Metrics { get; } = new();

    /// <summary>The rule switching MTP on and off per step, with its step counts; null unless speculating.</summary>
    public MtpSpeculationRule? Speculation { get; }

    /// <summary>The model's <see cref="ModelIdentity"/> when prefills come from elsewhere (empty otherwise).</summary>
    public string Identity { get; }

    /// <summary>Whether prompts are prefilled by an <see cref="IPrefillSource"/> (prefill/decode separation).</summary>
    public bool SeparatePrefill => _prefill is not null;

    /// <summary>Requests whose prefill has not been handed over yet.</summary>
    public int Prefilling => Volatile.Read(ref _prefilling);

    /// <summary>max_tokens when a request gives none: the rest of the context (vLLM's rule), at least 1.</summary>
    public int DefaultMaxTokens(int promptTokens) => Math.Max(1, MaxContext - promptTokens);

    /// <summary>Requests in the decode batch.</summary>
    public int Running => _runningCount;

    /// <summary>Requests waiting for admission.</summary>
    public int Waiting
    {
        get { lock (_gate) return _waiting.Count; }
    }

    /// <summary>Cache blocks running requests hold now (a cancelled or finished request's come back at once).</summary>
    public int CacheBlocksInUse => _cacheBlocksInUse;

    /// <summary>Prefix-cached blocks no running request holds: kept for later prompts, inside the KV budget.</summary>
    public int PrefixCachedBlocks => _prefixCachedBlocks;

    /// <summary>The KV budget in blocks.</summary>
    public long KvCacheBlocks => _budgetBlocks;

    /// <summary>Share of the KV budget in use, 0 to 1 (vllm:kv_cache_usage_perc).</summary>
    public double KvCacheUsage => _budgetBlocks == 0 ? 0 : Math.Min(1, (double)_cacheBlocksInUse / _budgetBlocks);

    /// <summary>
    /// Queues a request. Refuses at once (<see cref="InvalidArgumentException"/>) one that can never run: a prompt
    /// outside the vocabulary or the context, prompt + max_tokens over the context or over the whole KV budget, bad
    /// sampling parameters; and one the queue has no room for (<see cref="ServerBusyException"/>).
    /// <paramref name="cancellation"/> cancels the request wherever it is; its cache blocks come back at the loop's
    /// next turn.
    /// </summary>
    public RequestStream Submit(TextRequest request, CancellationToken cancellation = default)
    {
        var generation = new GenerationRequest(request.Prompt, request.Sampling);
        int prompt = request.Prompt.Count, completion = request.Sampling.MaxTokens;
        if ((long)prompt + completion > MaxContext)
            throw new InvalidArgumentException($"This model's maximum context length is {MaxContext} tokens. However, you requested " +
                $"{(long)prompt + completion} tokens ({prompt} in the prompt, {completion} in the completion). " +
                "Please reduce the length of the prompt or of the completion (max_tokens).");
        _batch.Validate(generation);
        long blocks = ((long)prompt + completion + Options.BlockSize - 1) / Options.BlockSize;
        if (blocks > _budgetBlocks)
            throw new InvalidArgumentException($"the request needs {blocks * Options.BlockSize} KV-cache tokens ({prompt} in the prompt, " +
                $"{completion} in the completion, in {Options.BlockSize}-token blocks); the server's whole KV budget is {KvCacheTokens}");
        var entry = new ServingEntry(generation, new TextStream(_tokenizer, request.Stop), blocks);
        if (cancellation.CanBeCanceled)
            entry.Registration = cancellation.Register(() =>
            {
                entry.CancelRequested = true;
                lock (_gate) Monitor.PulseAll(_gate);
            });
        try
        {
            if (_prefill is null) Enqueue(entry);
            else
            {
                Enqueue(entry, justCheck: true);                   // a full queue refuses at once, before any prefill
                Interlocked.Increment(ref _prefilling);
                _ = PrefillThenEnqueue(entry, _prefill.PrefillAsync(entry.Request, cancellation));
            }
        }
        catch
        {
            entry.Registration.Dispose();
            throw;
        }
        return entry.Stream;
    }

    private void Enqueue(ServingEntry entry, bool justCheck = false)
    {
        lock (_gate)
        {
            if (_stopping) throw new ServerBusyException("the server is shutting down");
            if (_waiting.Count + (justCheck ? Prefilling : 0) >= Options.MaxWaiting)
                throw new ServerBusyException($"{_waiting.Count} requests are already waiting (the limit); try again later");
            if (justCheck) return;
            _waiting.Enqueue(entry);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits for a request's prefill (a prefill worker's or process's), then queues it for the decode batch.</summary>
    private async Task PrefillThenEnqueue(ServingEntry entry, Task<PrefilledRequest> prefill)
    {
        try
        {
            var prefilled = await prefill;
            if (prefilled.ModelIdentity != Identity)
                throw new LatentCacheTransferException("the prefill came from another model", modelMismatch: true);
            if (GenerationBatch.SpeculationMismatch(prefilled, Options.Speculative) is { } mismatch)
                throw new LatentCacheTransferException(mismatch);
            Metrics.HandedOver(prefilled.Rows.Length, entry.Clock.Elapsed.TotalSeconds);
            entry.Prefilled = prefilled;
            Enqueue(entry);
        }
        catch (Exception e)
        {
            entry.Fail(e is OperationCanceledException ? new OperationCanceledException("the request was cancelled during its prefill") : e);
        }
        finally
        {
            Interlocked.Decrement(ref _prefilling);
        }
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_stopping && _waiting.Count == 0 && _running.Count == 0)
                    Monitor.Wait(_gate);
                if (_stopping) break;
            }
            try
            {
                DropCancelled();
                Admit();
                if (_running.Count > 0)
                {
                    _lockstep?.AnnounceStep();
                    _batch.Step();
                    foreach (var entry in _running.ToList()) Publish(entry);
                }
            }
            catch (Exception e)
            {
                // A failed pass: every running request fails with its error and gives its cache back.
                foreach (var entry in _running.ToList())
                {
                    if (entry.Sequence is not null) _batch.Cancel(entry.Sequence);
                    Finish(entry, e);
                }
            }
            UpdateGauges();
        }
        EndAll();
    }

    private void DropCancelled()
    {
        List<ServingEntry> cancelledWaiting;
        lock (_gate)
        {
            cancelledWaiting = _waiting.Where(e => e.CancelRequested).ToList();
            if (cancelledWaiting.Count > 0)
            {
                var kept = _waiting.Where(e => !e.CancelRequested).ToList();
                _waiting.Clear();
                foreach (var entry in kept) _waiting.Enqueue(entry);
            }
        }
        foreach (var entry in cancelledWaiting) entry.Fail(new OperationCanceledException("the request was cancelled while waiting"));
        foreach (var entry in _running.Where(e => e.CancelRequested).ToList())
        {
            _batch.Cancel(entry.Sequence!);
            Finish(entry, new OperationCanceledException("the request was cancelled"));
        }
    }

    /// <summary>Admits waiting requests in arrival order while the batch and the KV budget have room for the first.</summary>
    private void Admit()
    {
        while (_running.Count < Options.MaxBatch)
        {
            ServingEntry entry;
            lock (_gate)
            {
                if (!_waiting.TryPeek(out entry!)) return;
                if (_reservedBlocks + entry.ReservedBlocks > _budgetBlocks) return;
                _waiting.Dequeue();
            }
            // Idle prefix-cached blocks share the budget with reservations: evict the least recently used ones beyond
            // what is left, sparing those this prompt is about to reuse.
            _batch.TrimPrefixCache((int)(_budgetBlocks - _reservedBlocks - entry.ReservedBlocks), entry.Request.Prompt);
            Metrics.QueueTime.Observe(entry.Clock.Elapsed.TotalSeconds);
            _reservedBlocks += entry.ReservedBlocks;
            _running.Add(entry);
            try
            {
                entry.Id = ++_admitted;
                _lockstep?.AnnounceAdd(entry.Id, entry.Request);
                entry.Sequence = entry.Prefilled is { } prefilled
                    ? _batch.Add(entry.Request, prefilled, token => OnToken(entry, token))
                    : _batch.Add(entry.Request, token => OnToken(entry, token));
                entry.Prefilled = null;                            // its rows are in the cache now
            }
            catch (Exception e)
            {
                Finish(entry, e);                                  // this request alone: the batch gave its cache back
                continue;
            }
            Metrics.Admitted(entry.Request.Prompt.Count, entry.Sequence.CachedPromptTokens);
            Publish(entry);
            UpdateGauges();
        }
    }

    /// <summary>Each token, on the loop thread: latency metrics, then text and stop strings.</summary>
    private bool OnToken(ServingEntry entry, long token)
    {
        double now = entry.Clock.Elapsed.TotalSeconds;
        if (entry.LastTokenSeconds is { } last) Metrics.InterTokenLatency.Observe(now - last);
        else Metrics.TimeToFirstToken.Observe(now);
        entry.LastTokenSeconds = now;
        entry.PendingText.Append(entry.Text.Push(token));
        return !entry.Text.Stopped;                         // a cancelled request leaves at the next turn (DropCancelled)
    }

    /// <summary>Sends what a request produced since the last call; a finished request leaves.</summary>
    private void Publish(ServingEntry entry)
    {
        var sequence = entry.Sequence!;
        bool finished = sequence.Finished is not null;
        if (finished) entry.PendingText.Append(entry.Text.Finish());
        var tokens = sequence.Tokens.Skip(entry.Published).ToArray();
        var logprobs = sequence.Logprobs.Skip(entry.Published).ToArray();
        entry.Published += tokens.Length;
        Metrics.Generated(tokens.Length);
        if (tokens.Length > 0 || entry.PendingText.Length > 0)
            entry.Send(new StreamChunk(entry.PendingText.ToString(), tokens, logprobs));
        entry.PendingText.Clear();
        if (finished) Finish(entry, error: null);
    }

    private void Finish(ServingEntry entry, Exception? error)
    {
        if (entry.Id > 0) _lockstep?.AnnounceDrop(entry.Id);
        _running.Remove(entry);
        _reservedBlocks -= entry.ReservedBlocks;
        if (entry.Sequence is { Finished: not null } sequence)
            Metrics.Completed(sequence.Result());
        if (error is null)
        {
            Metrics.EndToEndLatency.Observe(entry.Clock.Elapsed.TotalSeconds);
            entry.Complete(entry.Sequence!.Result());
        }
        else entry.Fail(error);
    }

    private void UpdateGauges()
    {
        _runningCount = _running.Count;
        _cacheBlocksInUse = _batch.CacheBlocksInUse;
        _prefixCachedBlocks = _batch.IdleCachedBlocks;
    }

    /// <summary>Shutdown: every request still waiting or running ends cancelled, then the batch is freed.</summary>
    private void EndAll()
    {
        var shutdown = new OperationCanceledException("the server is shutting down");
        foreach (var entry in _running.ToList())
        {
            _batch.Cancel(entry.Sequence!);
            Finish(entry, shutdown);
        }
        List<ServingEntry> waiting;
        lock (_gate)
        {
            waiting = [.. _waiting];
            _waiting.Clear();
        }
        foreach (var entry in waiting) entry.Fail(shutdown);     // outside the lock: a cancellation callback takes it
        UpdateGauges();
        _lockstep?.AnnounceStop();
        _batch.Dispose();
    }

    /// <summary>Stops the loop after its current step; requests still waiting or running end cancelled.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        _loop.Join();
    }
}
