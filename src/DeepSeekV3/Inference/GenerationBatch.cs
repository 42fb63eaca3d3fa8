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
    /// <param name="model">The LibTorch model; null when <paramref name="backend"/> runs without one.</param>
    public GenerationBatch(Modeling.DeepSeekV3ForCausalLM? model, Modeling.AttentionMode mode = Modeling.AttentionMode.Absorbed,
        int blockSize = 64, bool fused = true, bool speculative = false, Func<ForwardBackend>? backend = null)
    {
        _backend = backend?.Invoke() ?? ForwardBackend.Create(
            model ?? throw new ArgumentNullException(nameof(model), "give a model or a backend"), mode, fused);
        Config = _backend.Config;
        try
        {
            _strategy = speculative ? new MtpSpeculativeDecoding(_backend) : new PlainDecoding(_backend);
        }
        catch
        {
            _backend.Dispose();
            throw;
        }
        var (dtype, device) = _backend.CacheType;
        _cache = new PagedLatentCache(Config, _strategy.CacheLayers, dtype, device, blockSize);
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
