using System.Diagnostics;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// Speculative decoding with the model's own first MTP module as the drafter (report §5.4.3): the MTP module
/// proposes the token after next from the main model's last hidden state; one main forward pass over
/// [pending token, draft] verifies it. Accepted: both tokens are kept plus a bonus token from the second position;
/// rejected: the corrected token is kept and the main cache rolls back by one entry. The MTP module keeps its own
/// latent cache (layer index num_hidden_layers) holding only confirmed (hidden, next token) pairs, so it never needs
/// rolling back. Greedy output equals plain greedy decoding; with sampling, <see cref="SpeculativeSampling"/> keeps
/// the output distribution the main model's. Verify and draft passes after the prompt run on the
/// <see cref="FusedDecoder"/> where the model allows it.
/// </summary>
public sealed class MtpSpeculativeDecoder
{
    private readonly DeepSeekV3ForCausalLM _model;
    private readonly AttentionMode _mode;
    private readonly bool _fused;

    /// <param name="fused">Use the <see cref="FusedDecoder"/> where it applies (false: LibTorch only).</param>
    public MtpSpeculativeDecoder(DeepSeekV3ForCausalLM model, AttentionMode mode = AttentionMode.Absorbed, bool fused = true)
    {
        if (model.Config.NumNextnPredictLayers < 1)
            throw new InvalidArgumentException("speculative decoding needs an MTP module; this model has num_nextn_predict_layers = 0");
        _model = model;
        _mode = mode;
        _fused = fused && mode == AttentionMode.Absorbed && FusedDecoder.Supports(model);
    }

    private ModelConfig Config => _model.Config;

    /// <summary>Generates one request; <paramref name="onToken"/> returns false to stop (a stop string matched).</summary>
    public GenerationResult Generate(GenerationRequest request, Func<long, bool>? onToken = null)
    {
        GenerationEngine.ValidatePrompt(Config, request.Prompt);
        var weight = _model.LmHead.Weight;
        var device = weight.device;
        int mainLayers = Config.NumHiddenLayers;
        using var cache = new PagedLatentCache(Config, mainLayers + 1, weight.dtype, device);
        var sampler = new Sampler(request.Sampling);
        int id = cache.AddSequence();
        cache.SetBatch(id);
        using var fused = _fused ? new FusedDecoder(_model) : null;
        using var _ = no_grad();

        var tokens = new List<long>();
        FinishReason? finished = null;
        var clock = Stopwatch.StartNew();
        TimeSpan firstToken = default, lastToken = default;
        bool Emit(long token)
        {
            tokens.Add(token);
            lastToken = clock.Elapsed;
            if (tokens.Count == 1) firstToken = lastToken;
            bool keepGoing = onToken?.Invoke(token) ?? true;
            finished = keepGoing
                ? StopRule.Check(Config, request.Sampling, token, tokens.Count, request.Prompt.Count + tokens.Count)
                : FinishReason.Stop;
            return finished is null;
        }

        // Prefill: main model over the prompt, first token, then the MTP module over every prompt position.
        long[] prompt = request.Prompt.ToArray();
        using var prefill = Prefill(prompt, cache, fused, device);
        if (!Emit(sampler.Sample(prefill.Logits[0, -1])))
            return new GenerationResult(tokens.ToArray(), finished!.Value, prompt.Length) { TimeToFirstToken = firstToken, Duration = lastToken };
        var nextTokens = prompt.Skip(1).Append(tokens[^1]).ToArray();
        var (draft, draftDistribution) = Draft(cache, fused, prefill.Hidden, nextTokens, 0, sampler, device);

        int drafted = 0, accepted = 0;
        long pending = tokens[^1];
        while (true)
        {
            using var scope = NewDisposeScope();
            long position = prompt.Length + tokens.Count - 1;                      // where `pending` goes
            var input = tensor(new[] { pending, draft }, device: device).unsqueeze(0);
            using var verify = fused?.Forward(input, cache)
                ?? _model.Forward(input, new ForwardContext { Mode = _mode, Cache = cache, StartPosition = position });
            using var target = sampler.Distribution(verify.Logits[0, 0]);
            var (ok, token) = SpeculativeSampling.Verify(target, draftDistribution, draft, sampler);
            draftDistribution.Dispose();
            drafted++;
            long[] confirmed;
            Tensor hidden;
            if (ok)
            {
                accepted++;
                if (!Emit(draft)) break;
                long bonus = sampler.Sample(verify.Logits[0, 1]);
                if (!Emit(bonus)) break;
                confirmed = [draft, bonus];
                hidden = verify.Hidden;                                            // h at `position` and `position` + 1
            }
            else
            {
                if (!Emit(token)) break;
                cache.Truncate(id, position + 1, 0, mainLayers);                   // drop the rejected draft's entries
                confirmed = [token];
                hidden = verify.Hidden.narrow(1, 0, 1);
            }
            pending = confirmed[^1];
            (draft, draftDistribution) = Draft(cache, fused, hidden, confirmed, position, sampler, device);
            draftDistribution.MoveToOuterDisposeScope();
        }
        return new GenerationResult(tokens.ToArray(), finished!.Value, prompt.Length)
        {
            DraftedTokens = drafted,
            AcceptedTokens = accepted,
            TimeToFirstToken = firstToken,
            Duration = lastToken,
        };
    }

    /// <summary>
    /// The main model over the prompt: logits of its last position and the hidden state at every position (the MTP
    /// module's input); short prompts on the fused decoder, as in <see cref="GenerationEngine"/>. The caller owns it.
    /// </summary>
    private ModelOutput Prefill(long[] prompt, PagedLatentCache cache, FusedDecoder? fused, Device device) =>
        fused is not null && prompt.Length <= FusedDecoder.PrefillTokens
            ? fused.Prefill(prompt, cache, lastOnly: false)
            : _model.Forward(tensor(prompt, device: device).unsqueeze(0), new ForwardContext { Mode = _mode, Cache = cache },
                lastOnly: true);

    /// <summary>
    /// Runs MTP depth 1 over (hidden h_i, token t_{i+1}) pairs at positions start.., appending them to the MTP cache,
    /// and proposes the token after the last pair. Returns the draft and the distribution it was drawn from (owned by
    /// the caller). On the fused decoder the pairs go 16 per pass, and only the last pass's last position is drafted.
    /// </summary>
    private (long Draft, Tensor Distribution) Draft(PagedLatentCache cache, FusedDecoder? fused, Tensor hidden,
        long[] nextTokens, long start, Sampler sampler, Device device)
    {
        using var scope = NewDisposeScope();
        var next = tensor(nextTokens, device: device).unsqueeze(0);
        ModelOutput mtp = null!;   // every pass's tensors belong to the scope
        if (fused is not null && nextTokens.Length <= FusedDecoder.PrefillTokens)
            for (int at = 0; at < nextTokens.Length; at += FusedDecoder.MaxRows)
            {
                int length = Math.Min(FusedDecoder.MaxRows, nextTokens.Length - at);
                mtp = fused.ForwardMtp(1, hidden.narrow(1, at, length), next.narrow(1, at, length), cache, lastOnly: true);
            }
        else
            mtp = _model.ForwardMtp(1, hidden, next, new ForwardContext { Mode = _mode, Cache = cache, StartPosition = start });
        var distribution = sampler.Distribution(mtp.Logits[0, -1]);
        long draft = sampler.Parameters.IsGreedy ? distribution.argmax().item<long>() : sampler.Draw(distribution);
        return (draft, distribution.MoveToOuterDisposeScope());
    }
}
