using System.Diagnostics;
using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// The generation loop: requests join (<see cref="Add"/>: prefilled at once, first token emitted) and leave (when a
/// stop rule ends them, giving their cache blocks back) at token boundaries, and each <see cref="Step"/> advances every
/// running sequence by one token boundary with the decoding strategy. Every sequence has its own entries in the
/// paged latent cache (or in its <see cref="PromptCache"/>'s). One backend, chosen when the batch is made, runs every
/// pass. Not thread-safe: one batch per generating thread.
/// </summary>
public sealed class GenerationBatch : IDisposable
{
    private readonly ForwardBackend _backend;
    private readonly IDecodingStrategy _strategy;
    private readonly PagedLatentCache _cache;
    private readonly List<GenerationSequence> _running = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <param name="fused">Run passes on the fused decoder where the model allows it (false: LibTorch only, the
    /// reference path).</param>
    /// <param name="speculative">MTP speculative decoding (the model needs an MTP module) instead of plain steps.</param>
    /// <param name="backend">Makes the backend instead of <see cref="ForwardBackend.Create"/> (expert-parallel inference
    /// has its own); the batch owns and disposes what it returns.</param>
    public GenerationBatch(Modeling.DeepSeekV3ForCausalLM model, Modeling.AttentionMode mode = Modeling.AttentionMode.Absorbed,
        int blockSize = 64, bool fused = true, bool speculative = false, Func<ForwardBackend>? backend = null)
    {
        Config = model.Config;
        _backend = backend?.Invoke() ?? ForwardBackend.Create(model, mode, fused);
        try
        {
            _strategy = speculative ? new MtpSpeculativeDecoding(_backend) : new PlainDecoding(_backend);
        }
        catch
        {
            _backend.Dispose();
            throw;
        }
        var weight = model.LmHead.Weight;
        _cache = new PagedLatentCache(Config, _strategy.CacheLayers, weight.dtype, weight.device, blockSize);
    }

    public ModelConfig Config { get; }

    /// <summary>Sequences still generating.</summary>
    public IReadOnlyList<GenerationSequence> Running => _running;

    /// <summary>
    /// Adds a request: prefills its prompt and emits its first token. <paramref name="onToken"/> sees each token as it
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
        var sequence = session is null
            ? new GenerationSequence(Config, request, _cache, _cache.AddSequence(), _clock, onToken, session: null, cachedPromptTokens: 0)
            : new GenerationSequence(Config, request, session.Cache, session.SequenceId, _clock, onToken, session, session.Reuse(request.Prompt));
        try
        {
            using (no_grad())
                _strategy.Prefill(sequence);
        }
        catch
        {
            sequence.Cancel();                         // gives its cache entries back
            _strategy.Forget(sequence);
            throw;
        }
        _running.Add(sequence);
        Leave();
        return sequence;
    }

    /// <summary>
    /// Prefill only (a prefill worker or process): prefills the prompt, draws the first token, and returns the prompt's
    /// cache rows with the sampler's state, then gives the cache back. <see cref="Add(GenerationRequest, PrefilledRequest, Func{long, bool}?)"/>
    /// on a batch of the same model continues it exactly.
    /// </summary>
    public PrefilledRequest Prefill(GenerationRequest request, string modelIdentity)
    {
        Validate(request);
        RequirePlainDecoding();
        var sequence = new GenerationSequence(Config, request, _cache, _cache.AddSequence(), _clock, onToken: null, session: null, cachedPromptTokens: 0);
        try
        {
            using (no_grad())
                _strategy.Prefill(sequence);
            bool finished = sequence.Finished is not null;     // its stop rules ended it: the cache is already back
            int prompt = request.Prompt.Count;
            byte[] rows = finished ? [] : LatentCacheRows.Export(_cache, sequence.CacheId, prompt);
            return new PrefilledRequest(modelIdentity, _cache.Dtype, _cache.Layers, _cache.RowWidth, prompt, sequence.Tokens[0],
                sequence.Logprobs.FirstOrDefault(), sequence.Sampler.State, finished, rows);
        }
        finally
        {
            sequence.Cancel();                                 // a no-op once finished
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
        RequirePlainDecoding();
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
            if (sequence.Emit(prefilled.FirstToken) && prefilled.Finished)
                throw new InvalidArgumentException("the prefill side ended this request at its first token, but this side's stop rules " +
                                                   "let it go on (a different request or model?)");
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

    /// <summary>A prefill handed over carries no MTP draft, so only plain decoding continues one.</summary>
    private void RequirePlainDecoding()
    {
        if (_strategy is MtpSpeculativeDecoding)
            throw new InvalidArgumentException("prefill/decode separation does not support speculative decoding yet: the MTP draft " +
                                               "made at prefill (its token and distribution) would have to move with the cache");
    }

    /// <summary>One token boundary for every running sequence (grouped by the cache they live in); the ones that
    /// finish leave. Returns whether any sequence is still running.</summary>
    public bool Step()
    {
        using (no_grad())
            foreach (var group in _running.GroupBy(s => s.Cache).Select(g => g.ToList()).ToList())
                _strategy.Step(group);
        Leave();
        return _running.Count > 0;
    }

    /// <summary>Ends a running sequence now (a client went away): it emits nothing more, gives its cache blocks back
    /// (unless a session keeps them) and leaves. Does nothing to a sequence that already finished.</summary>
    public void Cancel(GenerationSequence sequence)
    {
        if (sequence.Finished is not null) return;
        sequence.Cancel();
        _strategy.Forget(sequence);
        Leave();
    }

    /// <summary>Cache blocks the running sequences hold (of <see cref="CacheBlockSize"/> tokens each).</summary>
    public int CacheBlocksInUse => _cache.BlocksInUse;

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
