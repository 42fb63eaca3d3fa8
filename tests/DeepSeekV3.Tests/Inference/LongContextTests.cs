using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary>
/// Long context up to the YaRN-extended length: a tiny model trained (notionally) on 64 positions and stretched 4× by
/// YaRN, so max_position_embeddings = 64 × 4 = 256 is reached in a few hundred cheap steps. Cached decoding must
/// agree with the uncached forward to the last position, and the engines must refuse a prompt that fills the context
/// and stop a generation where the context ends.
/// </summary>
public sealed class LongContextTests(ITestOutputHelper log)
{
    private const int Original = 64, Factor = 4, Context = Original * Factor;
    private const double Tolerance = 1e-4;

    private static readonly ModelConfig Config = ModelPresets.Tiny with
    {
        MaxPositionEmbeddings = Context,
        RopeScaling = ModelPresets.Tiny.RopeScaling! with { Factor = Factor, OriginalMaxPositionEmbeddings = Original },
    };

    private static readonly SamplingParams Unbounded = new() { MaxTokens = 10 * Context, IgnoreEos = true };

    // std 0.08 rather than TinyModels' 0.02: sharper attention, so a key at the wrong position changes the logits.
    private static DeepSeekV3ForCausalLM CreateModel(ModelConfig? config = null, double std = 0.08) =>
        TinyModels.Create(config ?? Config, seed: 3, std: std);

    private static long[] RandomTokens(int length, int seed, int vocab = 0)
    {
        using var t = TinyModels.Tokens(1, length, vocab > 0 ? vocab : Config.VocabSize, seed);
        return t.data<long>().ToArray();
    }

    [Fact]
    public void Paged_cache_decoding_to_the_last_position_equals_the_uncached_forward()
    {
        using var model = CreateModel();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long[] tokens = RandomTokens(Context, seed: 1);
        const int prompt = 70;                                  // past the original 64, and ends inside a 16-token block
        var reference = UncachedLogits(model, tokens);          // [Context, vocab], naive attention, no cache

        using var cache = new PagedLatentCache(Config, Config.NumHiddenLayers, ScalarType.Float32, CPU, blockSize: 16);
        int id = cache.AddSequence();
        cache.SetBatch(id);
        double worstPrefill = Diff(Step(model, cache, tokens[..prompt]), reference.narrow(0, 0, prompt));
        double worstDecode = 0;
        for (int position = prompt; position < Context; position++)
        {
            using var stepScope = NewDisposeScope();
            var logits = Step(model, cache, tokens[position..(position + 1)]);
            worstDecode = Math.Max(worstDecode, Diff(logits, reference.narrow(0, position, 1)));
        }
        Assert.Equal(Context, cache.Length(id, Config.NumHiddenLayers - 1));

        // Control: positions come from the cache, so the last token stepped after a cache one entry short (it lands at
        // position Context − 2, as a caller losing count would place it) must fail the same comparison by far.
        cache.Truncate(id, Context - 2);
        double shifted = Diff(Step(model, cache, tokens[^1..]), reference.narrow(0, Context - 1, 1));
        double scale = reference.abs().max().item<float>();
        log.WriteLine($"max |logit| {scale:G4}; max abs diff prefill {worstPrefill:E2}, decode {worstDecode:E2}; " +
                      $"last step off by one {shifted:E2}");
        Assert.True(scale > 0.5, $"logits too small ({scale}) for the comparison to mean anything");
        Assert.True(worstPrefill <= Tolerance, $"prefill: max abs diff {worstPrefill:E3} > {Tolerance}");
        Assert.True(worstDecode <= Tolerance, $"decode: max abs diff {worstDecode:E3} > {Tolerance}");
        Assert.True(shifted > 100 * Tolerance, $"an off-by-one last step changes the logits by only {shifted:E3}");
    }

    [Fact]
    public void A_prompt_that_fills_the_context_is_refused()
    {
        using var model = CreateModel();
        var request = new GenerationRequest(RandomTokens(Context, seed: 2), Unbounded);
        var plain = Assert.Throws<InvalidArgumentException>(() => new GenerationEngine(model).Generate([request]));
        var speculative = Assert.Throws<InvalidArgumentException>(() => new MtpSpeculativeDecoder(model).Generate(request));
        foreach (var error in new[] { plain, speculative })
            Assert.Equal($"the prompt has {Context} tokens; the model's context is {Context}", error.Message);
    }

    [Fact]
    public void Generation_past_the_context_stops_at_its_end_with_finish_reason_length()
    {
        using var model = CreateModel();
        using var _ = no_grad();
        // Batched: the 255-token prompt has room for one token and finishes at prefill; the other decodes to the end.
        var requests = new[] { 200, Context - 1 }.Select((n, i) => new GenerationRequest(RandomTokens(n, seed: 10 + i), Unbounded)).ToList();
        var results = new GenerationEngine(model, blockSize: 16).Generate(requests);
        for (int i = 0; i < requests.Count; i++)
        {
            var (prompt, result) = (requests[i].Prompt, results[i]);
            Assert.Equal(FinishReason.Length, result.FinishReason);
            Assert.Equal(Context - prompt.Count, result.Tokens.Length);

            // Each token is the greedy choice of the uncached forward over everything before it.
            using var scope = NewDisposeScope();
            long[] sequence = [.. prompt, .. result.Tokens];
            var reference = UncachedLogits(model, sequence[..^1]);
            for (int k = 0; k < result.Tokens.Length; k++)
            {
                var row = reference[prompt.Count - 1 + k];
                double margin = row.max().item<float>() - row[result.Tokens[k]].item<float>();
                Assert.True(margin <= Tolerance, $"request {i}, token {k}: {margin:E3} below the reference's best logit");
            }
        }
    }

    /// <summary>Speculative decoding emits up to two tokens per step, so both parities of room left must stop
    /// exactly at the context end (a 6-token vocabulary makes drafts accepted often, as in its own tests).</summary>
    [Fact]
    public void Speculative_decoding_stops_at_the_context_end_like_plain_decoding()
    {
        var smallVocab = Config with { VocabSize = 6, EosTokenId = null };
        using var model = CreateModel(smallVocab, std: 0.3);
        int accepted = 0;
        for (int length = Context - 7; length < Context; length++)
        {
            var request = new GenerationRequest(RandomTokens(length, seed: length, vocab: smallVocab.VocabSize), Unbounded);
            var speculative = new MtpSpeculativeDecoder(model).Generate(request);
            var plain = new GenerationEngine(model).Generate([request])[0];
            Assert.Equal(plain.Tokens, speculative.Tokens);
            Assert.Equal(Context - length, speculative.Tokens.Length);
            Assert.Equal(FinishReason.Length, speculative.FinishReason);
            accepted += speculative.AcceptedTokens;
        }
        Assert.True(accepted > 0, "no draft was accepted: the two-token path never ran");
    }

    /// <summary>One forward pass of <paramref name="tokens"/> continuing the cache (positions from where it ends):
    /// logits [tokens, vocab], in the caller's dispose scope.</summary>
    private static Tensor Step(DeepSeekV3ForCausalLM model, PagedLatentCache cache, long[] tokens) =>
        model.Forward(tensor(tokens).unsqueeze(0),
            new ForwardContext { Mode = AttentionMode.Absorbed, Cache = cache }).Logits[0];

    /// <summary>The whole sequence in one pass with naive attention and no cache: logits [tokens, vocab], in the
    /// caller's dispose scope.</summary>
    private static Tensor UncachedLogits(DeepSeekV3ForCausalLM model, long[] tokens) =>
        model.Forward(tensor(tokens).unsqueeze(0), new ForwardContext { Mode = AttentionMode.Naive }).Logits[0];

    private static double Diff(Tensor a, Tensor b) => (a - b).abs().max().item<float>();
}
