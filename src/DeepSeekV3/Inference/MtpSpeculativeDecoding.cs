using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// Speculative decoding with the model's own first MTP module as the drafter (report §5.4.3). The MTP module proposes
/// the token after next from the main model's last hidden state; one main pass over [pending token, draft] verifies
/// it. Accepted: both tokens are kept plus a bonus token from the second position; rejected: the corrected token is
/// kept and the main cache rolls back by one entry. The MTP module's cache layer (index num_hidden_layers) holds only
/// confirmed (hidden, next token) pairs, so it never rolls back. Greedy output equals plain greedy decoding; with
/// sampling, <see cref="SpeculativeSampling"/> keeps the output distribution the main model's. With a
/// <see cref="ISpeculationPolicy"/>, a step may instead be a plain batched one-token step: a sequence's draft is then
/// dropped and its (hidden state, token) pairs wait, so the next MTP step first brings the MTP layer up to date with them
/// in one pass. Greedy output is the same whatever the policy decides; sampled output keeps its distribution, but which
/// random draws go where depends on the decisions (and so on timings and what runs beside it). Prompts may go in whole,
/// in chunks, after a prefix-cache hit, or be prefilled by another batch and handed over with their draft
/// (<see cref="TakeDraft"/>, <see cref="Adopt"/>): the MTP layer ends up with the same entries every way.
/// </summary>
internal sealed class MtpSpeculativeDecoding : IDecodingStrategy
{
    private readonly ForwardBackend _backend;
    private readonly Dictionary<GenerationSequence, Draft> _drafts = [];
    private readonly Dictionary<GenerationSequence, List<(Tensor Hidden, long Token)>> _lag = [];   // owned here
    private readonly ISpeculationPolicy? _policy;
    private readonly System.Diagnostics.Stopwatch _clock = new();

    /// <summary>A sequence's proposal between steps: the token it verifies next, the draft after it, and the
    /// distribution the draft was drawn from (owned here).</summary>
    private sealed record Draft(long Pending, long Token, Tensor Distribution);

    /// <param name="policy">Decides per step between MTP and plain steps; null: always MTP.</param>
    public MtpSpeculativeDecoding(ForwardBackend backend, ISpeculationPolicy? policy = null)
    {
        RequireDrafter(backend.Config);
        _backend = backend;
        _policy = policy;
    }

    /// <summary>Fails unless the model has an MTP module to draft with.</summary>
    internal static void RequireDrafter(Configuration.ModelConfig config)
    {
        if (config.NumNextnPredictLayers < 1)
            throw new InvalidArgumentException("speculative decoding needs an MTP module; this model has num_nextn_predict_layers = 0");
    }

    private int MainLayers => _backend.Config.NumHiddenLayers;

    public int CacheLayers => MainLayers + 1;

    /// <summary>
    /// The next <paramref name="tokens"/> prompt tokens (a chunk, or the rest of the prompt) through the main model, then
    /// the MTP module over the same positions: its entry at position i pairs h_i with token i+1, which the prompt gives
    /// for every position but the last, and the first token for that one, so the draft comes with the last chunk.
    /// </summary>
    public void Prefill(GenerationSequence sequence, int tokens)
    {
        using var scope = NewDisposeScope();
        var cache = sequence.Cache;
        if (sequence.PrefilledTokens > 0 && sequence.PrefilledTokens == sequence.CachedPromptTokens)
        {
            // A prefix-cache hit of c tokens: the MTP entry at c-1 pairs it with the token after it, which the prompt
            // that cached the block need not share with this one. Redo position c-1 (the main pass gives h_{c-1});
            // Truncate writes into a copy of the shared block, so the cached one stays as it was.
            cache.Truncate(sequence.CacheId, sequence.PrefilledTokens - 1);
            sequence.PrefilledTokens--;
            tokens++;
        }
        cache.SetBatch(sequence.CacheId);
        var prompt = sequence.Request.Prompt;
        int start = sequence.PrefilledTokens, end = start + tokens;
        var prefill = _backend.Prefill(prompt.Skip(start).Take(tokens).ToArray(), cache, everyHidden: true);   // hidden [1, tokens, hidden]
        sequence.PrefilledTokens = end;
        if (end < prompt.Count)
        {
            _backend.DraftMtp(1, prefill.Hidden, tensor(prompt.Skip(start + 1).Take(tokens).ToArray()).unsqueeze(0), cache).Dispose();
            return;
        }
        if (!sequence.Emit(sequence.Sampler.Sample(prefill.Logits[0, -1])))
            return;
        Propose(sequence, prefill.Hidden, prompt.Skip(start + 1).Append(sequence.Tokens[^1]).ToArray());
    }

    /// <summary>What a sequence prefilled here needs to go on drafting elsewhere (its MTP cache entries travel with
    /// the main ones): the draft after its first token. The sequence is forgotten here.</summary>
    public MtpDraft TakeDraft(GenerationSequence sequence)
    {
        if (!_drafts.Remove(sequence, out var draft))
            throw new InvalidOperationException("the sequence has no draft: it is not prefilled, or it finished");
        using (draft.Distribution)
            return new MtpDraft(draft.Token, draft.Distribution.data<float>().ToArray());
    }

    /// <summary>Continues a sequence prefilled elsewhere (<see cref="TakeDraft"/>) whose first token it emitted.</summary>
    public void Adopt(GenerationSequence sequence, MtpDraft draft)
    {
        if (draft.Distribution.Length != _backend.Config.VocabSize)
            throw new InvalidArgumentException($"the MTP draft's distribution has {draft.Distribution.Length} entries; the vocabulary has {_backend.Config.VocabSize}");
        if (draft.Token < 0 || draft.Token >= _backend.Config.VocabSize)
            throw new InvalidArgumentException($"the MTP draft token {draft.Token} is outside the vocabulary [0, {_backend.Config.VocabSize})");
        _drafts[sequence] = new Draft(sequence.Tokens[^1], draft.Token, tensor(draft.Distribution));
    }

    public void Step(IReadOnlyList<GenerationSequence> running)
    {
        bool mtp = _policy?.UseMtp(running.Count) ?? true;
        int drafted = running.Sum(s => s.DraftedTokens), accepted = running.Sum(s => s.AcceptedTokens);
        _clock.Restart();
        if (mtp)
            foreach (var sequence in running)
            {
                CatchUp(sequence);
                Verify(sequence);
            }
        else PlainStep(running);
        _policy?.Observe(mtp, running.Count, _clock.Elapsed.TotalSeconds,
            running.Sum(s => s.DraftedTokens) - drafted, running.Sum(s => s.AcceptedTokens) - accepted);
    }

    /// <summary>One batched one-token pass, as <see cref="PlainDecoding"/> takes; each sequence keeps the pass's hidden
    /// state with the token it gave, the pair its MTP layer will need.</summary>
    private void PlainStep(IReadOnlyList<GenerationSequence> running)
    {
        foreach (var chunk in running.Chunk(_backend.MaxRows))
        {
            using var scope = NewDisposeScope();
            var cache = chunk[0].Cache;
            cache.SetBatch(chunk.Select(s => s.CacheId).ToArray());
            var output = _backend.Step(tensor(chunk.Select(s => s.Tokens[^1]).ToArray()).unsqueeze(1), cache);
            for (int row = 0; row < chunk.Length; row++)
            {
                var sequence = chunk[row];
                if (_drafts.Remove(sequence, out var draft)) draft.Distribution.Dispose();
                if (!sequence.Emit(sequence.Sampler.Sample(output.Logits[row, 0])))
                {
                    Forget(sequence);
                    continue;
                }
                if (!_lag.TryGetValue(sequence, out var pairs)) _lag[sequence] = pairs = [];
                pairs.Add((output.Hidden.narrow(0, row, 1).clone().DetachFromDisposeScope(), sequence.Tokens[^1]));
            }
        }
    }

    /// <summary>After plain steps: the MTP layer takes the waiting (hidden, token) pairs in one pass, and drafts.</summary>
    private void CatchUp(GenerationSequence sequence)
    {
        if (!_lag.Remove(sequence, out var pairs)) return;
        using var scope = NewDisposeScope();
        sequence.Cache.SetBatch(sequence.CacheId);
        var hidden = cat(pairs.Select(p => p.Hidden).ToArray(), 1);                                   // [1, n, hidden]
        foreach (var pair in pairs) pair.Hidden.Dispose();
        Propose(sequence, hidden, pairs.Select(p => p.Token).ToArray());
    }

    /// <summary>One main pass over [pending, draft], then the next draft.</summary>
    private void Verify(GenerationSequence sequence)
    {
        using var scope = NewDisposeScope();
        var cache = sequence.Cache;
        cache.SetBatch(sequence.CacheId);
        var draft = _drafts[sequence];
        _drafts.Remove(sequence);
        using var draftDistribution = draft.Distribution;
        long position = sequence.Length - 1;                                       // where `pending` goes
        var verify = _backend.Step(tensor(new[] { draft.Pending, draft.Token }).unsqueeze(0), cache);
        var target = sequence.Sampler.Distribution(verify.Logits[0, 0]);
        var (accepted, token) = SpeculativeSampling.Verify(target, draftDistribution, draft.Token, sequence.Sampler);
        sequence.DraftedTokens++;
        long[] confirmed;
        Tensor hidden;
        if (accepted)
        {
            sequence.AcceptedTokens++;
            if (!sequence.Emit(draft.Token)) return;
            long bonus = sequence.Sampler.Sample(verify.Logits[0, 1]);
            if (!sequence.Emit(bonus)) return;
            confirmed = [draft.Token, bonus];
            hidden = verify.Hidden;                                                // h at `position` and `position` + 1
        }
        else
        {
            if (!sequence.Emit(token)) return;
            cache.Truncate(sequence.CacheId, position + 1, 0, MainLayers);        // drop the rejected draft's entries
            confirmed = [token];
            hidden = verify.Hidden.narrow(1, 0, 1);
        }
        Propose(sequence, hidden, confirmed);
    }

    /// <summary>
    /// Runs MTP depth 1 over (hidden h_i, token t_{i+1}) pairs continuing the MTP cache layer, and draws the draft for
    /// the position after the last pair from the sequence's own sampler.
    /// </summary>
    private void Propose(GenerationSequence sequence, Tensor hidden, long[] nextTokens)
    {
        using var scope = NewDisposeScope();
        var mtp = _backend.DraftMtp(1, hidden, tensor(nextTokens).unsqueeze(0), sequence.Cache);
        var distribution = sequence.Sampler.Distribution(mtp.Logits[0, -1]);
        long token = sequence.Sampler.Parameters.IsGreedy ? distribution.argmax().item<long>() : sequence.Sampler.Draw(distribution);
        _drafts[sequence] = new Draft(nextTokens[^1], token, distribution.DetachFromDisposeScope());
    }

    public void Forget(GenerationSequence sequence)
    {
        if (_drafts.Remove(sequence, out var draft)) draft.Distribution.Dispose();
        if (_lag.Remove(sequence, out var pairs))
            foreach (var pair in pairs) pair.Hidden.Dispose();
    }

    /// <summary>Frees the drafts and waiting pairs of sequences that stopped early.</summary>
    public void Dispose()
    {
        foreach (var sequence in _drafts.Keys.Concat(_lag.Keys).ToList()) Forget(sequence);
    }
}
