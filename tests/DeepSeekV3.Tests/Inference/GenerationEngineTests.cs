using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

public class GenerationEngineTests
{
    private static readonly ModelConfig Config = ModelPresets.Tiny;

    private static readonly SamplingParams Greedy = new() { MaxTokens = 12, IgnoreEos = true };

    [Fact]
    public void Batched_decode_of_different_prompt_lengths_equals_each_prompt_alone()
    {
        using var model = TinyModels.Create();
        var engine = new GenerationEngine(model, blockSize: 4);   // small blocks: sequences span several blocks
        // Lengths: one fused prefill pass, two of them, and LibTorch's prefill (over 32 tokens).
        var requests = new[] { 3, 9, 20, 40 }.Select((n, i) => new GenerationRequest(TinyModels.Prompt(n, i), Greedy)).ToList();
        var batched = engine.Generate(requests);
        for (int i = 0; i < requests.Count; i++)
        {
            var alone = engine.Generate([requests[i]])[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
            // And the plain contiguous-cache greedy loop agrees too.
            Assert.Equal(GreedyDecoder.Generate(model, requests[i].Prompt, 12), batched[i].Tokens);
            Assert.Equal(FinishReason.Length, batched[i].FinishReason);
        }
    }

    [Fact]
    public void A_prompt_cache_prefills_only_what_follows_the_common_prefix_and_generates_the_same_tokens()
    {
        using var model = TinyModels.Create();
        var engine = new GenerationEngine(model, blockSize: 4);
        using var session = new PromptCache(model, blockSize: 4);
        long[] first = TinyModels.Prompt(10, 1);
        var firstResult = engine.Generate(new GenerationRequest(first, Greedy), session);
        Assert.Equal(0, firstResult.CachedPromptTokens);
        Assert.Equal(engine.Generate([new GenerationRequest(first, Greedy)])[0].Tokens, firstResult.Tokens);
        Assert.Equal(first.Length + Greedy.MaxTokens - 1, session.Length);     // the last token was never fed back

        // The next turn: the whole first exchange plus new tokens (41 to prefill from position 21: LibTorch's path).
        long[] next = [.. first, .. firstResult.Tokens, .. TinyModels.Prompt(40, 2)];
        var nextResult = engine.Generate(new GenerationRequest(next, Greedy), session);
        Assert.Equal(first.Length + firstResult.Tokens.Length - 1, nextResult.CachedPromptTokens);
        Assert.Equal(engine.Generate([new GenerationRequest(next, Greedy)])[0].Tokens, nextResult.Tokens);
        Assert.Equal(GreedyDecoder.Generate(model, next, Greedy.MaxTokens), nextResult.Tokens);

        // A prompt that leaves the conversation after 6 tokens keeps those; the same prompt again reuses all but one.
        long[] other = [.. first[..6], .. TinyModels.Prompt(5, 3)];
        foreach (int expected in new[] { 6, other.Length - 1 })
        {
            var otherResult = engine.Generate(new GenerationRequest(other, Greedy), session);
            Assert.Equal(expected, otherResult.CachedPromptTokens);
            Assert.Equal(GreedyDecoder.Generate(model, other, Greedy.MaxTokens), otherResult.Tokens);
        }
        session.Clear();
        Assert.Equal(0, engine.Generate(new GenerationRequest(other, Greedy), session).CachedPromptTokens);
    }

    [Fact]
    public void Timings_order_the_first_token_before_the_last_and_prefills_in_turn()
    {
        using var model = TinyModels.Create();
        var results = new GenerationEngine(model).Generate([new GenerationRequest(TinyModels.Prompt(4, 1), Greedy), new GenerationRequest(TinyModels.Prompt(6, 2), Greedy)]);
        foreach (var r in results)
        {
            Assert.True(r.TimeToFirstToken > TimeSpan.Zero && r.Duration > r.TimeToFirstToken, $"{r.TimeToFirstToken} / {r.Duration}");
            Assert.Equal((r.Tokens.Length - 1) / (r.Duration - r.TimeToFirstToken).TotalSeconds, r.DecodeTokensPerSecond, 6);
        }
        // The second request's prefill runs after the first's, so its first token comes later.
        Assert.True(results[1].TimeToFirstToken > results[0].TimeToFirstToken);
        var speculative = new MtpSpeculativeDecoder(model).Generate(new GenerationRequest(TinyModels.Prompt(4, 1), Greedy));
        Assert.True(speculative.TimeToFirstToken > TimeSpan.Zero && speculative.Duration > speculative.TimeToFirstToken);
    }

    [Fact]
    public void Naive_and_absorbed_engines_generate_the_same_tokens()
    {
        using var model = TinyModels.Create();
        var request = new GenerationRequest(TinyModels.Prompt(7, 3), Greedy);
        Assert.Equal(new GenerationEngine(model, AttentionMode.Naive).Generate([request])[0].Tokens,
                     new GenerationEngine(model, AttentionMode.Absorbed).Generate([request])[0].Tokens);
    }

    [Fact]
    public void A_stop_token_ends_the_sequence_and_is_included()
    {
        using var model = TinyModels.Create();
        var free = new GenerationEngine(model).Generate([new GenerationRequest(TinyModels.Prompt(5, 1), Greedy)])[0];
        long stop = free.Tokens[3];
        int firstStop = Array.IndexOf(free.Tokens, stop);
        var stopped = new GenerationEngine(model).Generate([new GenerationRequest(TinyModels.Prompt(5, 1), Greedy with { StopTokenIds = [stop] })])[0];
        Assert.Equal(free.Tokens.Take(firstStop + 1), stopped.Tokens);
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public void Streaming_callback_sees_every_token_in_order()
    {
        using var model = TinyModels.Create();
        var seen = new List<(int, long)>();
        var results = new GenerationEngine(model).Generate(
            [new GenerationRequest(TinyModels.Prompt(4, 1), Greedy), new GenerationRequest(TinyModels.Prompt(6, 2), Greedy)], (i, t) => { seen.Add((i, t)); return true; });
        for (int i = 0; i < 2; i++)
            Assert.Equal(results[i].Tokens, seen.Where(s => s.Item1 == i).Select(s => s.Item2));
    }

    [Fact]
    public void Invalid_prompts_are_rejected()
    {
        using var model = TinyModels.Create();
        var engine = new GenerationEngine(model);
        Assert.Throws<InvalidArgumentException>(() => engine.Generate([new GenerationRequest([], Greedy)]));
        var e = Assert.Throws<InvalidArgumentException>(() => engine.Generate([new GenerationRequest([1, 9999], Greedy)]));
        Assert.Contains("9999", e.Message);
    }

    [Fact]
    public void Paged_cache_allocates_exactly_the_info_bytes_per_token()
    {
        using var cache = new PagedLatentCache(Config, Config.NumHiddenLayers, ScalarType.BFloat16, CPU, blockSize: 64);
        int id = cache.AddSequence();
        cache.SetBatch(id);
        using var latent = zeros(1, 128, Config.KvLoraRank, ScalarType.BFloat16);
        using var rope = zeros(1, 128, Config.QkRopeHeadDim, ScalarType.BFloat16);
        for (int layer = 0; layer < Config.NumHiddenLayers; layer++)
            cache.Append(layer, latent, rope);
        long perToken = new ModelSize(Config).LatentCacheBytesPerToken(2);   // what `dsv3 info` prints
        Assert.Equal(128 * perToken, cache.AllocatedBytes);
        Assert.Equal(128 * perToken, cache.BytesInUse);
        cache.Truncate(id, 60);
        Assert.Equal(64 * perToken, cache.BytesInUse);                      // one block freed
        cache.RemoveSequence(id);
        Assert.Equal(0, cache.BytesInUse);
    }
}
