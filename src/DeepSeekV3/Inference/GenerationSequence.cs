using System.Diagnostics;
using DeepSeekV3.Configuration;

namespace DeepSeekV3.Inference;

/// <summary>
/// One request inside a <see cref="GenerationBatch"/>: its entries in the batch's cache, its sampler, the tokens it
/// has produced, and when it stopped. Every decoding strategy emits through <see cref="Emit"/>, so stop rules,
/// callbacks and timings have one implementation.
/// </summary>
public sealed class GenerationSequence
{
    private readonly ModelConfig _config;
    private readonly Func<long, bool>? _onToken;
    private readonly Stopwatch _clock;
    private readonly List<long> _tokens = [];
    private readonly List<TokenLogprobs> _logprobs = [];

    internal GenerationSequence(ModelConfig config, GenerationRequest request, PagedLatentCache cache, int cacheId,
        Stopwatch clock, Func<long, bool>? onToken, PromptCache? session, int cachedPromptTokens)
    {
        _config = config;
        Request = request;
        Cache = cache;
        CacheId = cacheId;
        _clock = clock;
        _onToken = onToken;
        Session = session;
        CachedPromptTokens = cachedPromptTokens;
        PrefilledTokens = cachedPromptTokens;
        Sampler = new Sampler(request.Sampling);
        if (request.Sampling.RepetitionPenalty != 1)                               // only the window's tail can count
            for (int i = Math.Max(0, request.Prompt.Count - request.Sampling.RepetitionWindow); i < request.Prompt.Count; i++)
                RememberForPenalty(request.Prompt[i]);
    }

    /// <summary>EOS ends every earlier assistant turn of a chat prompt: penalizing it as a repeat would make the model
    /// less able to end the turn, so stop tokens stay out of the repetition window.</summary>
    private void RememberForPenalty(long token)
    {
        if (token != _config.EosTokenId && !Request.Sampling.StopTokenIds.Contains(token)) Sampler.Remember(token);
    }

    public GenerationRequest Request { get; }

    public IReadOnlyList<long> Tokens => _tokens;

    /// <summary>Each token's log-probabilities when the request asks for them (<see cref="SamplingParams.Logprobs"/>),
    /// else empty.</summary>
    public IReadOnlyList<TokenLogprobs> Logprobs => _logprobs;

    /// <summary>Null while the sequence runs.</summary>
    public FinishReason? Finished { get; private set; }

    internal PagedLatentCache Cache { get; }
    internal int CacheId { get; }
    internal Sampler Sampler { get; }

    /// <summary>The conversation whose cache this sequence continues; it keeps the entries when the sequence finishes.</summary>
    internal PromptCache? Session { get; }

    /// <summary>Prompt tokens whose entries the cache already held (a conversation's cache or the prefix cache);
    /// prefill starts after them.</summary>
    internal int CachedPromptTokens { get; }

    /// <summary>Prompt tokens whose entries the cache holds so far; the first token comes once all are.</summary>
    internal int PrefilledTokens { get; set; }

    internal int DraftedTokens { get; set; }
    internal int AcceptedTokens { get; set; }

    /// <summary>Tokens the model has seen or will see next: the prompt and every emitted token.</summary>
    internal long Length => Request.Prompt.Count + _tokens.Count;

    private TimeSpan _firstToken, _lastToken;

    /// <summary>
    /// Adds a generated token, tells the caller, and applies the stop rules (EOS and stop tokens, max_tokens, a full
    /// context, or the callback asking to stop). A finished sequence gives its cache entries back unless a session
    /// keeps them. Returns whether the sequence goes on.
    /// </summary>
    internal bool Emit(long token)
    {
        if (Finished is not null)
            throw new InvalidOperationException("a finished sequence emitted a token");
        _tokens.Add(token);
        RememberForPenalty(token);
        if (Request.Sampling.Logprobs is not null)
            _logprobs.Add(Sampler.LastLogprobs ?? throw new InvalidOperationException("a token was emitted without its log-probabilities"));
        _lastToken = _clock.Elapsed;
        if (_tokens.Count == 1) _firstToken = _lastToken;
        bool keepGoing = _onToken?.Invoke(token) ?? true;
        Finished = keepGoing ? StopRule.Check(_config, Request.Sampling, token, _tokens.Count, Length) : FinishReason.Stop;
        if (Finished is not null) ReleaseCache();
        return Finished is null;
    }

    /// <summary>Ends a running sequence without another token (<see cref="FinishReason.Cancelled"/>).</summary>
    internal void Cancel()
    {
        if (Finished is not null) return;
        Finished = FinishReason.Cancelled;
        ReleaseCache();
    }

    /// <summary>A finished sequence gives its cache entries back unless a session keeps them; with prefix caching,
    /// the full blocks of a request that ended normally stay findable (a cancelled one's may be half written).</summary>
    private void ReleaseCache()
    {
        if (Session is not null) return;
        if (Cache.PrefixCaching && Finished != FinishReason.Cancelled)
            Cache.CommitPrefix(CacheId, [.. Request.Prompt, .. _tokens]);
        Cache.RemoveSequence(CacheId);
    }

    /// <summary>What the request produced (once <see cref="Finished"/>).</summary>
    public GenerationResult Result() =>
        new(_tokens.ToArray(), Finished ?? throw new InvalidOperationException("the sequence is still running"), Request.Prompt.Count)
        {
            TimeToFirstToken = _firstToken,
            Duration = _lastToken,
            CachedPromptTokens = CachedPromptTokens,
            DraftedTokens = DraftedTokens,
            AcceptedTokens = AcceptedTokens,
        };
}
