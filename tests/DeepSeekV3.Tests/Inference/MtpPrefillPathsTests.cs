using System.Runtime.InteropServices;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Modeling;

namespace DeepSeekV3.Tests.Inference;

/// <summary>
/// MTP speculative decoding on every way a prompt gets into the cache: in chunks, from the prefix cache, or prefilled
/// by another batch and handed over (prefill/decode separation). Greedy output equals plain greedy output, and, since
/// greedy output is blind to bad drafts, the MTP module's cache entries and drafts are checked too: they equal those of
/// a whole-prompt MTP prefill from scratch.
/// </summary>
public class MtpPrefillPathsTests
{
    // A 6-token vocabulary makes MTP drafts right often enough by chance that both paths (accept, reject) run.
    private static readonly ModelConfig SmallVocab = ModelPresets.Tiny with { VocabSize = 6, EosTokenId = null };
    private const int Block = 4;

    private static long[] Prompt(int length, int seed)
    {
        using var t = TinyModels.Tokens(1, length, SmallVocab.VocabSize, seed);
        return t.data<long>().ToArray();
    }

    private static GenerationRequest Greedy(long[] prompt) => new(prompt, new SamplingParams { MaxTokens = 20, IgnoreEos = true });

    /// <summary>The sequence's cache entries [layers, prompt tokens, row width] as floats (the tiny model's cache is fp32).</summary>
    private static float[] Rows(GenerationSequence sequence) =>
        MemoryMarshal.Cast<byte, float>(LatentCacheRows.Export(sequence.Cache, sequence.CacheId, sequence.Request.Prompt.Count)).ToArray();

    /// <summary>A whole-prompt MTP run from scratch: its tokens, drafts and the prompt's cache entries after prefill.</summary>
    private static (IReadOnlyList<long> Tokens, int Drafted, int Accepted, float[] Rows) Reference(DeepSeekV3.Modeling.DeepSeekV3ForCausalLM model, GenerationRequest request)
    {
        using var batch = new GenerationBatch(model, blockSize: Block, speculative: true);
        var sequence = batch.Add(request);
        var rows = Rows(sequence);
        while (batch.Step()) { }
        return (sequence.Tokens, sequence.DraftedTokens, sequence.AcceptedTokens, rows);
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f + 1e-4f * Math.Abs(expected[i]), $"entry {i}: expected {expected[i]}, found {actual[i]}");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(8)]
    public void Chunked_prefill_gives_mtp_its_cache_entries_and_greedy_output_equals_plain(int chunk)
    {
        using var model = TinyModels.Create(SmallVocab, seed: 4, std: 0.3);
        int drafted = 0, accepted = 0;
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var request = Greedy(Prompt(23, seed));
            var reference = Reference(model, request);
            var plain = new GenerationEngine(model).Generate([request])[0];
            using var batch = new GenerationBatch(model, blockSize: Block, speculative: true, prefillChunk: chunk);
            var sequence = batch.Add(request);
            while (batch.Prefilling.Count > 0) batch.Step();
            AssertClose(reference.Rows, Rows(sequence));                  // main and MTP layers
            while (batch.Step()) { }
            Assert.Equal(plain.Tokens, sequence.Tokens);
            Assert.Equal((reference.Drafted, reference.Accepted), (sequence.DraftedTokens, sequence.AcceptedTokens));
            drafted += sequence.DraftedTokens;
            accepted += sequence.AcceptedTokens;
        }
        Assert.True(accepted > 0 && accepted < drafted, $"accepted {accepted} of {drafted}");
    }

    [Fact]
    public void A_prefix_cache_hit_redoes_the_mtp_entry_that_pairs_the_prefix_with_the_next_token()
    {
        using var model = TinyModels.Create(SmallVocab, seed: 4, std: 0.3);
        long[] shared = Prompt(9, 5);                                     // two full blocks and one more token
        long[] first = [.. shared, 0, 1, 2], second = [.. shared[..8], (shared[8] + 1) % 6, 3, 4, 5];
        var reference = Reference(model, Greedy(second));
        var plain = new GenerationEngine(model).Generate([Greedy(second)])[0];

        using var batch = new GenerationBatch(model, blockSize: Block, speculative: true, prefixCaching: true);
        var one = batch.Add(Greedy(first));
        float[] firstRows = Rows(one);
        var two = batch.Add(Greedy(second));                              // while the first runs: its blocks are shared
        Assert.Equal(8, two.CachedPromptTokens);
        AssertClose(reference.Rows, Rows(two));
        while (batch.Step()) { }
        Assert.Equal(plain.Tokens, two.Tokens);
        Assert.Equal((reference.Drafted, reference.Accepted), (two.DraftedTokens, two.AcceptedTokens));
        // The entry the first prompt cached at position 7 (paired with its own token 8) differs from the second's: it
        // was redone in a copy, not read from the shared block.
        using var cold = new GenerationBatch(model, blockSize: Block, speculative: true);
        AssertClose(Rows(cold.Add(Greedy(first))), firstRows);
        int width = SmallVocab.KvLoraRank + SmallVocab.QkRopeHeadDim, mtpLayer = SmallVocab.NumHiddenLayers;
        var firstMtp7 = firstRows.AsSpan((mtpLayer * first.Length + 7) * width, width).ToArray();
        var secondMtp7 = reference.Rows.AsSpan((mtpLayer * second.Length + 7) * width, width).ToArray();
        Assert.NotEqual(firstMtp7, secondMtp7);
    }

    [Fact]
    public void A_prefill_handed_over_carries_the_mtp_entries_and_draft_and_decodes_as_colocated()
    {
        using var model = TinyModels.Create(SmallVocab, seed: 4, std: 0.3);
        using var prefill = new GenerationBatch(model, blockSize: Block, speculative: true);
        using var decode = new GenerationBatch(model, blockSize: Block, speculative: true);
        using var plainDecode = new GenerationBatch(model, blockSize: Block);
        foreach (int seed in new[] { 1, 2, 3 })
        {
            var request = Greedy(Prompt(17, seed));
            var reference = Reference(model, request);
            var prefilled = prefill.Prefill(request, "model");
            Assert.Equal(SmallVocab.NumHiddenLayers + 1, prefilled.Layers);
            Assert.NotNull(prefilled.Draft);
            var sequence = decode.Add(request, prefilled);
            AssertClose(reference.Rows, Rows(sequence));
            while (decode.Step()) { }
            Assert.Equal(reference.Tokens, sequence.Tokens);
            Assert.Equal((reference.Drafted, reference.Accepted), (sequence.DraftedTokens, sequence.AcceptedTokens));
            // The two sides must agree on speculation.
            Assert.Contains("--speculative mtp", Assert.Throws<InvalidArgumentException>(() => plainDecode.Add(request, prefilled)).Message);
        }
    }

    [Fact]
    public void A_sampled_request_handed_over_draws_what_it_draws_colocated()
    {
        // The draft after the first token is drawn at prefill, so the sampler state that travels is the one after it.
        using var model = TinyModels.Create(SmallVocab, seed: 4, std: 0.3);
        var request = new GenerationRequest(Prompt(17, 6), new SamplingParams { MaxTokens = 20, IgnoreEos = true, Temperature = 0.9, Seed = 5 });
        using var colocated = new GenerationBatch(model, blockSize: Block, speculative: true);
        var expected = colocated.Add(request);
        while (colocated.Step()) { }
        using var prefill = new GenerationBatch(model, blockSize: Block, speculative: true);
        using var decode = new GenerationBatch(model, blockSize: Block, speculative: true);
        var sequence = decode.Add(request, prefill.Prefill(request, "model"));
        while (decode.Step()) { }
        Assert.Equal(expected.Tokens, sequence.Tokens);
        Assert.Equal((expected.DraftedTokens, expected.AcceptedTokens), (sequence.DraftedTokens, sequence.AcceptedTokens));
    }
}
