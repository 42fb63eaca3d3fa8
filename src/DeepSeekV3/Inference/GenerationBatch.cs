using System.Diagnostics;
using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// The generation loop: requests join (<see cref="Add"/>: prefilled at once, first token emitted) and leave (when a
/// stop rule ends them, giving their cache blocks back) at token boundaries, and each <see cref="Step"/> advances every
/// running sequence by one token boundary with the decoding strategy. Every sequence has its own entries in the
/// paged latent cache (or in its <see cref="PromptCache"/>'s). One backend, chosen when the batch is made, runs every
/// pass. With prefix caching, a prompt starts from the cached full blocks of its longest known prefix (shared with
/// whoever else holds them). With chunked prefill, a long prompt goes in one chunk per <see cref="Step"/> after the
/// running sequences' decode pass (vLLM's chunked prefill), so a long prompt delays the other streams by one chunk's
/// time per token instead of its whole prefill. Not thread-safe: one batch per generating thread.
/// </summary>
public sealed class GenerationBatch : IDisposable
{
    private readonly ForwardBackend _backend;
    private readonly IDecodingStrategy _strategy;
    private readonly PagedLatentCache _cache;
    private readonly List<GenerationSequence> _running = [];
    private readonly List<GenerationSequence> _prefilling = [];          // joined, prompt not all in yet; first come first
    private readonly int _prefillChunk;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <param name="fused">Run passes on the fused decoder where the model allows it (false: LibTorch only, the
    /// reference path).</param>
    /// <param name="speculative">MTP speculative decoding (the model needs an MTP module) instead of plain steps.</param>
    /// <param name="backend">Makes the backend instead of <see cref="ForwardBackend.Create"/> (expert-parallel inference
    /// has its own); the batch owns and disposes what it returns.</param>
    /// <param name="model">The LibTorch model; null when <paramref name="backend"/> runs without one.</param>
    /// <param name="prefixCaching">Share full cache blocks across requests by prompt prefix; finished requests' blocks
    /// stay cached until evicted (<see cref="TrimPrefixCache"/>, or when new entries need a block).</param>
    /// <param name="prefillChunk">Prompt tokens prefilled per pass at most (0: a whole prompt at once).</param>
    /// <param name="speculationPolicy">With <paramref name="speculative"/>: decides per step between MTP and plain
    /// steps (null: MTP every step).</param>
    public GenerationBatch(Modeling.DeepSeekV3ForCausalLM? model, Modeling.AttentionMode mode = Modeling.AttentionMode.Absorbed,
        int blockSize = 64, bool fused = true, bool speculative = false, Func<ForwardBackend>? backend = null,
        bool prefixCaching = false, int prefillChunk = 0, ISpeculationPolicy? speculationPolicy = null)
    {
        if (prefillChunk < 0) throw new InvalidArgumentException($"prefill chunk {prefillChunk} must be >= 0 (0: off)");
        _prefillChunk = prefillChunk;
        _backend = backend?.Invoke() ?? ForwardBackend.Create(
            model ?? throw new ArgumentNullException(nameof(model), "give a model or a backend"), mode, fused);
        Config = _backend.Config;
        try
        {
            _strategy = speculative ? new MtpSpeculativeDecoding(_backend, speculationPolicy) : new PlainDecoding(_backend);
        }
        catch
        {
            _backend.Dispose();
            throw;
        }
        var (dtype, device) = _backend.CacheType;
        _cache = new PagedLatentCache(Config, _strategy.CacheLayers, dtype, device, blockSize, prefixCaching);
    }

    public ModelConfig Config { get; }

    /// <summary>Sequences still generating.</summary>
    public IReadOnlyList<GenerationSequence> Running => _running;

    /// <summary>Sequences whose prompt is still going in, chunk by chunk; they join <see cref="Running"/> with their
    /// first token.</summary>
    public IReadOnlyList<GenerationSequence> Prefilling => _prefilling;

    /// <summary>
    /// Adds a request: prefills its prompt (its first chunk only, with chunked prefill) and emits its first token once
    /// the whole prompt is in. <paramref name="onToken"/> sees each token as it
    /// comes and returns false to stop the request (a stop string matched). With <paramref name="session"/>, the
    /// request continues that conversation's cache: the prompt's longest common prefix with the tokens the session
    /// holds (all but the prompt's last token at most, whose logits are needed) is not prefilled again; afterwards the
    /// session holds the prompt and the generated tokens but the last (never fed back).
    /// </summary>
    public GenerationSequence Add(GenerationRequest request, Func<long, bool>? onToken = null, PromptCache? session = null)
    {
        Validate(request);
        if (session is not null && _strategy is MtpSpeculativeDecoding)
            throw new InvalidArgumentException("speculative decoding keeps its own cache: its MTP entries pair each position " +
                                               "with the next token, so a conversation's prompt cache does not apply");
        GenerationSequence sequence;
        if (session is null)
        {
            int id = _cache.AddSequence();
            int cached = _cache.MatchPrefix(id, request.Prompt, request.Prompt.Count - 1);
            sequence = new GenerationSequence(Config, request, _cache, id, _clock, onToken, session: null, cached);
        }
        else sequence = new GenerationSequence(Config, request, session.Cache, session.SequenceId, _clock, onToken, session, session.Reuse(request.Prompt));
        _prefilling.Add(sequence);
        PrefillChunk(sequence);
        Leave();
        return sequence;
    }

    /// <summary>The next chunk of a joining sequence's prompt; with the last, it emits its first token and runs. A
    /// failed pass cancels the sequence alone (its cache entries come back) and throws.</summary>
    private void PrefillChunk(GenerationSequence sequence)
    {
        int remaining = sequence.Request.Prompt.Count - sequence.PrefilledTokens;
        try
        {
            using (no_grad())
                _strategy.Prefill(sequence, _prefillChunk > 0 ? Math.Min(_prefillChunk, remaining) : remaining);
        }
        catch
        {
            _prefilling.Remove(sequence);
            sequence.Cancel();
            _strategy.Forget(sequence);
            throw;
        }
        // Its full blocks become findable now, by requests arriving while it is still prefilling or running.
        if (sequence.Finished is null && sequence.Session is null) _cache.CommitPrefix(sequence.CacheId, sequence.Request.Prompt);
        if (sequence.PrefilledTokens < sequence.Request.Prompt.Count) return;
        _prefilling.Remove(sequence);
        _running.Add(sequence);
    }

    /// <summary>
    /// Prefill only (a prefill worker or process): prefills the prompt, draws the first token, and returns the prompt's
    /// cache rows with the sampler's state (with speculative decoding, the MTP layer's rows and the first draft too),
    /// then gives the cache back. <see cref="Add(GenerationRequest, PrefilledRequest, Func{long, bool}?)"/>
    /// on a batch of the same model continues it exactly.
    /// </summary>
    public PrefilledRequest Prefill(GenerationRequest request, string modelIdentity)
    {
        Validate(request);
        var sequence = new GenerationSequence(Config, request, _cache, _cache.AddSequence(), _clock, onToken: null, session: null, cachedPromptTokens: 0);
        try
        {
            using (no_grad())
                _strategy.Prefill(sequence, request.Prompt.Count);
            bool finished = sequence.Finished is not null;     // its stop rules ended it: the cache is already back
            int prompt = request.Prompt.Count;
            byte[] rows = finished ? [] : LatentCacheRows.Export(_cache, sequence.CacheId, prompt);
            var draft = !finished && _strategy is MtpSpeculativeDecoding mtp ? mtp.TakeDraft(sequence) : null;
            return new PrefilledRequest(modelIdentity, _cache.Dtype, _cache.Layers, _cache.RowWidth, prompt, sequence.Tokens[0],
                sequence.Logprobs.FirstOrDefault(), sequence.Sampler.State, finished, rows, draft);
        }
        finally
        {
            sequence.Cancel();                                 // a no-op once finished
            _strategy.Forget(sequence);
        }
    }

    /// <summary>
    /// Adds a request prefilled elsewhere (<see cref="Prefill(GenerationRequest, string)"/>): its rows go into this
    /// batch's cache, its sampler continues from the prefill side's state, and its first token is emitted here (so
    /// <paramref name="onToken"/> and the stop rules see it as with <see cref="Add(GenerationRequest, Func{long, bool}?, PromptCache?)"/>).
    /// The caller checks the model identity; the shapes are checked here.
    /// </summary>
    public GenerationSequence Add(GenerationRequest request, PrefilledRequest prefilled, Func<long, bool>? onToken = null)
    {
        Validate(request);
        var mtp = _strategy as MtpSpeculativeDecoding;
        if (SpeculationMismatch(prefilled, mtp is not null) is { } mismatch) throw new InvalidArgumentException(mismatch);
        if (prefilled.Dtype != _cache.Dtype || prefilled.Layers != _cache.Layers || prefilled.RowWidth != _cache.RowWidth ||
            prefilled.PromptTokens != request.Prompt.Count)
            throw new InvalidArgumentException($"the prefilled cache ({prefilled.Layers} layers × {prefilled.PromptTokens} tokens × " +
                $"{prefilled.RowWidth} {prefilled.Dtype}) does not fit this request and model ({_cache.Layers} layers × " +
                $"{request.Prompt.Count} tokens × {_cache.RowWidth} {_cache.Dtype})");
        var sequence = new GenerationSequence(Config, request, _cache, _cache.AddSequence(), _clock, onToken, session: null, cachedPromptTokens: 0);
        try
        {
            LatentCacheRows.Import(_cache, sequence.CacheId, prefilled.Rows, prefilled.RowTokens);
            sequence.Sampler.Continue(prefilled.SamplerState, prefilled.FirstLogprobs);
            bool running = sequence.Emit(prefilled.FirstToken);
            if (running && prefilled.Finished)
                throw new InvalidArgumentException("the prefill side ended this request at its first token, but this side's stop rules " +
                                                   "let it go on (a different request or model?)");
            if (running) mtp?.Adopt(sequence, prefilled.Draft!);
        }
        catch
        {
            sequence.Cancel();
            throw;
        }
        _running.Add(sequence);
        Leave();
        return sequence;
    }

    /// <summary>Why a prefill cannot continue on a side that does (<paramref name="speculative"/>) or does not decode
    /// with MTP, or null when it can: both sides must agree, since the MTP layer's entries and draft come from prefill.</summary>
    internal static string? SpeculationMismatch(PrefilledRequest prefilled, bool speculative) =>
        prefilled.Finished || (prefilled.Draft is not null) == speculative ? null
        : speculative ? "this side decodes with MTP (speculative decoding) but the prefill side sent no draft: run both with or both without --speculative mtp"
        : "the prefill side drafted with MTP (speculative decoding) but this side decodes plainly: run both with or both without --speculative mtp";

    /// <summary>One token boundary for every running sequence (grouped by the cache they live in), then the next
    /// prompt chunk of the first sequence still prefilling; the ones that finish leave. Returns whether any sequence
    /// is still running or prefilling.</summary>
    public bool Step()
    {
        using (no_grad())
            foreach (var group in _running.GroupBy(s => s.Cache).Select(g => g.ToList()).ToList())
                _strategy.Step(group);
        if (_prefilling.Count > 0) PrefillChunk(_prefilling[0]);
        Leave();
        return _running.Count + _prefilling.Count > 0;
    }

    /// <summary>Ends a running sequence now (a client went away): it emits nothing more, gives its cache blocks back
    /// (unless a session keeps them) and leaves. Does nothing to a sequence that already finished.</summary>
    public void Cancel(GenerationSequence sequence)
    {
        if (sequence.Finished is not null) return;
        sequence.Cancel();
        _strategy.Forget(sequence);
        _prefilling.Remove(sequence);
        Leave();
    }

    /// <summary>Cache blocks the running sequences hold (of <see cref="CacheBlockSize"/> tokens each); a block
    /// several share counts once.</summary>
    public int CacheBlocksInUse => _cache.BlocksInUse;

    /// <summary>Prefix-cached blocks no sequence holds (memory kept for later prompts).</summary>
    public int IdleCachedBlocks => _cache.IdleBlocks;

    public bool PrefixCaching => _cache.PrefixCaching;

    /// <summary>Evicts idle prefix-cached blocks, least recently used first, down to <paramref name="maxIdle"/>,
    /// sparing the blocks <paramref name="prompt"/> would match. Returns the blocks evicted.</summary>
    public int TrimPrefixCache(int maxIdle, IReadOnlyList<long>? prompt = null) => _cache.TrimIdle(maxIdle, prompt);

    public int CacheBlockSize => _cache.BlockSize;

    /// <summary>Finished sequences leave; a session's records what its cache now holds.</summary>
    private void Leave()
    {
        foreach (var done in _running.Where(s => s.Finished is not null).ToList())
        {
            _running.Remove(done);
            done.Session?.Hold(done.Request.Prompt.Skip(done.CachedPromptTokens).Concat(done.Tokens.SkipLast(1)));
        }
    }

    /// <summary>Checks a request before anything runs: its prompt (<see cref="Validate(IReadOnlyList{long})"/>), its
    /// sampling parameters, and that this batch's decoding can give what it asks for. Safe from any thread.</summary>
    public void Validate(GenerationRequest request)
    {
        Validate(request.Prompt);
        request.Sampling.Validated();
        if (request.Sampling.Logprobs is not null && _strategy is MtpSpeculativeDecoding)
            throw new InvalidArgumentException("log-probabilities are not available with speculative decoding: accepted " +
                                               "draft tokens are not sampled from the main model's logits");
    }

    /// <summary>Checks a prompt before anything runs: not empty, inside the context and the vocabulary.</summary>
    public void Validate(IReadOnlyList<long> prompt)
    {
        if (prompt.Count == 0)
            throw new InvalidArgumentException("the prompt is empty: give at least one token");
        if (prompt.Count >= Config.MaxPositionEmbeddings)
            throw new InvalidArgumentException($"the prompt has {prompt.Count} tokens; the model's context is {Config.MaxPositionEmbeddings}");
        foreach (long id in prompt)
            if (id < 0 || id >= Config.VocabSize)
                throw new InvalidArgumentException($"prompt token {id} is outside the vocabulary [0, {Config.VocabSize})");
    }

    public void Dispose()
    {
        _strategy.Dispose();
        _backend.Dispose();
        _cache.Dispose();
    }
}
