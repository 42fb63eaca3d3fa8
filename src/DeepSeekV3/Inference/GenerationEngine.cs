using System.Diagnostics;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// Batched generation with the paged latent cache: each prompt is prefilled on its own (the whole prompt in one
/// forward pass), then every unfinished sequence decodes one token per step in a single batched forward pass, each at
/// its own position. Finished sequences leave the batch and give their blocks back. Decode steps run on the
/// <see cref="FusedDecoder"/> when the model allows it (CPU, fp32/bf16, absorbed attention), in chunks of
/// <see cref="FusedDecoder.MaxRows"/> sequences, and so do prefills of short prompts; otherwise the model's LibTorch
/// forward runs. A <see cref="PromptCache"/> carries one conversation's cache from request to request.
/// </summary>
public sealed class GenerationEngine
{
    private readonly DeepSeekV3ForCausalLM _model;
    private readonly AttentionMode _mode;
    private readonly int _blockSize;
    private readonly bool _fused;

    /// <param name="fused">Decode with the <see cref="FusedDecoder"/> where it applies (false: LibTorch only, the
    /// reference path the benchmarks and tests compare against).</param>
    public GenerationEngine(DeepSeekV3ForCausalLM model, AttentionMode mode = AttentionMode.Absorbed, int blockSize = 64,
        bool fused = true)
    {
        _model = model;
        _mode = mode;
        _blockSize = blockSize;
        _fused = fused && mode == AttentionMode.Absorbed && FusedDecoder.Supports(model);
    }

    public ModelConfig Config => _model.Config;

    private sealed class Sequence(int index, GenerationRequest request, int cacheId, Stopwatch clock, bool keep = false)
    {
        /// <summary>Keep the cache entries when finished (a <see cref="PromptCache"/>'s sequence).</summary>
        public bool Keep { get; } = keep;
        public Stopwatch Clock { get; } = clock;
        public TimeSpan FirstToken { get; set; }
        public TimeSpan LastToken { get; set; }
        public int Index { get; } = index;
        public GenerationRequest Request { get; } = request;
        public int CacheId { get; } = cacheId;
        public Sampler Sampler { get; } = new(request.Sampling);
        public List<long> Tokens { get; } = [];
        public FinishReason? Finished { get; set; }
        public long Length => Request.Prompt.Count + Tokens.Count;  // tokens the model has seen or will see next
    }

    /// <summary>
    /// Generates for every request. <paramref name="onToken"/> sees (request index, token) as they come and returns
    /// false to stop that request (a stop string matched): it then finishes with <see cref="FinishReason.Stop"/>.
    /// </summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests, Func<int, long, bool>? onToken = null)
    {
        foreach (var request in requests) ValidatePrompt(Config, request.Prompt);
        var weight = _model.LmHead.Weight;
        using var cache = new PagedLatentCache(Config, Config.NumHiddenLayers, weight.dtype, weight.device, _blockSize);
        var clock = Stopwatch.StartNew();
        var sequences = requests.Select((r, i) => new Sequence(i, r, cache.AddSequence(), clock)).ToList();
        using var fused = _fused ? new FusedDecoder(_model) : null;
        using var _ = no_grad();
        foreach (var sequence in sequences)
            Prefill(sequence, cache, fused, onToken, from: 0);
        Decode(sequences, cache, fused, onToken);
        return sequences.Select(s => Result(s, cachedPromptTokens: 0)).ToList();
    }

    /// <summary>
    /// Generates for one request in <paramref name="session"/>'s cache: the prompt's longest common prefix with the
    /// tokens the session holds (all but the prompt's last token at most, whose logits are needed) is not prefilled
    /// again. Afterwards the session holds the prompt and the generated tokens but the last (never fed back).
    /// <paramref name="onToken"/> returns false to stop (a stop string matched).
    /// </summary>
    public GenerationResult Generate(GenerationRequest request, PromptCache session, Func<long, bool>? onToken = null)
    {
        ValidatePrompt(Config, request.Prompt);
        var prompt = request.Prompt;
        int reused = 0, limit = Math.Min(session.Tokens.Count, prompt.Count - 1);
        while (reused < limit && session.Tokens[reused] == prompt[reused]) reused++;
        session.KeepPrefix(reused);
        var sequence = new Sequence(0, request, session.SequenceId, Stopwatch.StartNew(), keep: true);
        using var fused = _fused ? new FusedDecoder(_model) : null;
        using (no_grad())
        {
            Func<int, long, bool>? callback = onToken is null ? null : (_, token) => onToken(token);
            Prefill(sequence, session.Cache, fused, callback, from: reused);
            Decode([sequence], session.Cache, fused, callback);
        }
        session.Tokens.AddRange(prompt.Skip(reused));
        session.Tokens.AddRange(sequence.Tokens.Take(sequence.Tokens.Count - 1));
        return Result(sequence, reused);
    }

    private void Decode(List<Sequence> sequences, PagedLatentCache cache, FusedDecoder? fused, Func<int, long, bool>? onToken)
    {
        while (sequences.Where(s => s.Finished is null).ToList() is { Count: > 0 } active)
            foreach (var chunk in active.Chunk(fused is null ? active.Count : FusedDecoder.MaxRows))
                DecodeStep(chunk, cache, fused, onToken);
    }

    private static GenerationResult Result(Sequence s, int cachedPromptTokens) =>
        new(s.Tokens.ToArray(), s.Finished!.Value, s.Request.Prompt.Count)
        {
            TimeToFirstToken = s.FirstToken,
            Duration = s.LastToken,
            CachedPromptTokens = cachedPromptTokens,
        };

    /// <summary>Prompt tokens [from..] continue the sequence's cache (which holds the first <paramref name="from"/>);
    /// samples the first token.</summary>
    private void Prefill(Sequence sequence, PagedLatentCache cache, FusedDecoder? fused, Func<int, long, bool>? onToken, int from)
    {
        using var scope = NewDisposeScope();
        cache.SetBatch(sequence.CacheId);
        var ids = sequence.Request.Prompt.Skip(from).ToArray();
        if (fused is not null && ids.Length <= FusedDecoder.PrefillTokens)
        {
            using var output = fused.Prefill(ids, cache, lastOnly: true);
            Accept(sequence, sequence.Sampler.Sample(output.Logits[0, 0]), cache, onToken);
            return;
        }
        var prompt = tensor(ids, device: _model.LmHead.Weight.device).unsqueeze(0);
        using var full = _model.Forward(prompt, new ForwardContext { Mode = _mode, Cache = cache, StartPosition = from }, lastOnly: true);
        Accept(sequence, sequence.Sampler.Sample(full.Logits[0, -1]), cache, onToken);
    }

    private void DecodeStep(Sequence[] active, PagedLatentCache cache, FusedDecoder? fused, Func<int, long, bool>? onToken)
    {
        using var scope = NewDisposeScope();
        var device = _model.LmHead.Weight.device;
        cache.SetBatch(active.Select(s => s.CacheId).ToArray());
        var input = tensor(active.Select(s => s.Tokens[^1]).ToArray(), device: device).unsqueeze(1);            // [b, 1]
        // The fused decoder continues each sequence where its cache ends; LibTorch takes the positions explicitly.
        using var output = fused?.Forward(input, cache) ?? _model.Forward(input, new ForwardContext
        {
            Mode = _mode,
            Cache = cache,
            PositionIds = tensor(active.Select(s => s.Length - 1).ToArray(), device: device).unsqueeze(1),    // [b, 1]
        });
        for (int row = 0; row < active.Length; row++)
            Accept(active[row], active[row].Sampler.Sample(output.Logits[row, 0]), cache, onToken);
    }

    private void Accept(Sequence sequence, long token, PagedLatentCache cache, Func<int, long, bool>? onToken)
    {
        sequence.Tokens.Add(token);
        sequence.LastToken = sequence.Clock.Elapsed;
        if (sequence.Tokens.Count == 1) sequence.FirstToken = sequence.LastToken;
        bool keepGoing = onToken?.Invoke(sequence.Index, token) ?? true;
        sequence.Finished = keepGoing
            ? StopRule.Check(Config, sequence.Request.Sampling, token, sequence.Tokens.Count, sequence.Length)
            : FinishReason.Stop;
        if (sequence.Finished is not null && !sequence.Keep)
            cache.RemoveSequence(sequence.CacheId);
    }

    internal static void ValidatePrompt(ModelConfig config, IReadOnlyList<long> prompt)
    {
        if (prompt.Count == 0)
            throw new InvalidArgumentException("the prompt is empty: give at least one token");
        if (prompt.Count >= config.MaxPositionEmbeddings)
            throw new InvalidArgumentException($"the prompt has {prompt.Count} tokens; the model's context is {config.MaxPositionEmbeddings}");
        foreach (long id in prompt)
            if (id < 0 || id >= config.VocabSize)
                throw new InvalidArgumentException($"prompt token {id} is outside the vocabulary [0, {config.VocabSize})");
    }
}
