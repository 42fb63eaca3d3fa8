using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary>
/// The prefix cache on hand-built sequences of a 4-token-block cache: full blocks shared by chain hash, reference
/// counts, idle blocks kept and evicted least recently used, copy-on-write of a shared block, and generation that
/// reuses cached blocks giving exactly the tokens it gives from scratch.
/// </summary>
public class PrefixCacheTests
{
    private static readonly ModelConfig Config = ModelPresets.Tiny;
    private const int Layers = 2;

    private static PagedLatentCache NewCache() => new(Config, Layers, ScalarType.Float32, CPU, blockSize: 4, prefixCaching: true);

    /// <summary>A sequence holding entries for <paramref name="tokens"/> in every layer (contents irrelevant here).</summary>
    private static int Filled(PagedLatentCache cache, long[] tokens, bool commit = true)
    {
        int id = cache.AddSequence();
        int matched = cache.MatchPrefix(id, tokens, tokens.Length);
        for (int layer = 0; layer < Layers; layer++) cache.Reserve(id, layer, tokens.Length - matched);
        if (commit) cache.CommitPrefix(id, tokens);
        return id;
    }

    private static long[] Range(int from, int count) => Enumerable.Range(from, count).Select(i => (long)i).ToArray();

    [Fact]
    public void Full_blocks_of_a_common_prefix_are_shared_and_counted_once()
    {
        using var cache = NewCache();
        long[] a = Range(0, 10);                                          // blocks [0..4) [4..8) and a partial [8..10)
        int first = Filled(cache, a);
        Assert.Equal(3, cache.BlocksInUse);

        long[] b = [.. Range(0, 8), 100, 101, 102];                        // same two full blocks, then its own
        int second = cache.AddSequence();
        Assert.Equal(8, cache.MatchPrefix(second, b, b.Length - 1));
        Assert.Equal(cache.Blocks(first).Take(2), cache.Blocks(second));
        Assert.All(cache.Blocks(second), block => Assert.Equal(2, cache.References(block)));
        Assert.Equal(8, cache.Length(second, layer: 1));                   // every layer starts after the prefix

        // The chain hash names the whole prefix: a different first block shares nothing, even with an equal second.
        long[] c = [99, 1, 2, 3, .. Range(4, 6)];
        int third = cache.AddSequence();
        Assert.Equal(0, cache.MatchPrefix(third, c, c.Length - 1));
        // A match never takes the prompt's last token, whose logits are needed: an 8-token prompt matches 4.
        int fourth = cache.AddSequence();
        Assert.Equal(4, cache.MatchPrefix(fourth, Range(0, 8), 7));

        for (int layer = 0; layer < Layers; layer++) cache.Reserve(second, layer, 3);
        Assert.Equal(4, cache.BlocksInUse);                                // 3 of the first, 1 new of the second
        cache.RemoveSequence(first);
        Assert.Equal(2, cache.References(cache.Blocks(second)[0]));       // the fourth still holds block 0
        Assert.Equal(1, cache.References(cache.Blocks(second)[1]));
        Assert.Equal(0, cache.IdleBlocks);                                // both full blocks are still held
        cache.RemoveSequence(second);
        cache.RemoveSequence(third);
        cache.RemoveSequence(fourth);
        Assert.Equal(0, cache.BlocksInUse);
        Assert.Equal(2, cache.IdleBlocks);                                // the known blocks stay; partial ones were freed
    }

    [Fact]
    public void Idle_blocks_are_evicted_least_recently_used_first_and_a_match_takes_them_back()
    {
        using var cache = NewCache();
        long[] x = Range(0, 4), y = Range(10, 4), z = Range(20, 4);
        int xs = Filled(cache, x), ys = Filled(cache, y), zs = Filled(cache, z);
        int xBlock = cache.Blocks(xs)[0], yBlock = cache.Blocks(ys)[0], zBlock = cache.Blocks(zs)[0];
        cache.RemoveSequence(ys);                                         // released in the order y, x, z
        cache.RemoveSequence(xs);
        cache.RemoveSequence(zs);
        Assert.Equal([yBlock, xBlock, zBlock], cache.IdleOrder);

        // Using y again makes it the most recently used once it is let go.
        int again = cache.AddSequence();
        Assert.Equal(4, cache.MatchPrefix(again, [.. y, 5], 4));
        Assert.Equal(yBlock, cache.Blocks(again)[0]);
        cache.RemoveSequence(again);
        Assert.Equal([xBlock, zBlock, yBlock], cache.IdleOrder);

        // Sparing z for a prompt about to use it, trimming to one other idle block evicts x (the oldest), to none y.
        Assert.Equal(1, cache.TrimIdle(1, keepFor: [.. z, 7]));
        Assert.Equal([zBlock, yBlock], cache.IdleOrder);
        Assert.Equal(1, cache.TrimIdle(0, keepFor: [.. z, 7]));
        Assert.Equal([zBlock], cache.IdleOrder);
        int lost = cache.AddSequence();
        Assert.Equal(0, cache.MatchPrefix(lost, [.. x, 1], 4));           // evicted content is not found any more
    }

    [Fact]
    public void New_entries_take_the_least_recently_used_idle_block_before_the_pools_grow()
    {
        using var cache = NewCache();
        int a = Filled(cache, Range(0, 4)), b = Filled(cache, Range(10, 4));
        int capacity = cache.CapacityBlocks;
        int aBlock = cache.Blocks(a)[0];
        cache.RemoveSequence(a);
        cache.RemoveSequence(b);
        Assert.Equal(capacity, cache.BlocksInUse + cache.IdleBlocks);     // no free block left
        int fresh = Filled(cache, Range(50, 3), commit: false);
        Assert.Equal(capacity, cache.CapacityBlocks);                     // reused, not grown
        Assert.Equal(aBlock, cache.Blocks(fresh)[0]);                     // a's block was the older
        int probe = cache.AddSequence();
        Assert.Equal(0, cache.MatchPrefix(probe, [.. Range(0, 4), 9], 4));
        Assert.Equal(4, cache.MatchPrefix(cache.AddSequence(), [.. Range(10, 4), 9], 4));
    }

    [Fact]
    public void Writing_after_a_truncation_into_a_shared_block_copies_it_first()
    {
        using var scope = NewDisposeScope();
        using var cache = new PagedLatentCache(Config, 1, ScalarType.Float32, CPU, blockSize: 4, prefixCaching: true);
        long[] tokens = Range(0, 8);
        int owner = cache.AddSequence();
        cache.SetBatch(owner);
        Append(cache, 8, 1f);
        cache.CommitPrefix(owner, tokens);
        int reader = cache.AddSequence();
        Assert.Equal(8, cache.MatchPrefix(reader, [.. tokens, 8], 8));
        int shared = cache.Blocks(reader)[1];

        cache.Truncate(reader, 6);                                        // position 6 lies in the shared second block
        Assert.NotEqual(shared, cache.Blocks(reader)[1]);
        Assert.Equal(1, cache.References(shared));
        cache.SetBatch(reader);
        var copied = Append(cache, 2, -5f);
        Assert.Equal(1f, copied.Latent[0, 5, 0].item<float>());           // the copy kept the first rows
        Assert.Equal(-5f, copied.Latent[0, 7, 0].item<float>());
        cache.SetBatch(owner);
        var original = Append(cache, 1, 2f);
        Assert.Equal(Enumerable.Repeat(1f, 8), original.Latent[0, ..8, 0].data<float>().ToArray());   // untouched
    }

    /// <summary>Appends <paramref name="steps"/> entries of value <paramref name="value"/> to layer 0 of the batch's one sequence.</summary>
    private static LatentCacheView Append(PagedLatentCache cache, int steps, float value) =>
        cache.Append(0, full([1, steps, Config.KvLoraRank], value), full([1, steps, Config.QkRopeHeadDim], value));

    [Fact]
    public void A_request_reusing_cached_blocks_generates_what_it_generates_from_scratch()
    {
        using var model = TinyModels.Create();
        long[] system = TinyModels.Prompt(11, 3);
        var greedy = new SamplingParams { MaxTokens = 6, IgnoreEos = true, Logprobs = 2 };
        var first = new GenerationRequest([.. system, 5, 6, 7], greedy);
        var second = new GenerationRequest([.. system, 8, 9], greedy);

        using var cold = new GenerationBatch(model, blockSize: 4);
        var expected = cold.Add(second);
        while (cold.Step()) { }

        using var warm = new GenerationBatch(model, blockSize: 4, prefixCaching: true);
        var one = warm.Add(first);
        var two = warm.Add(second);                                       // while the first still runs
        while (warm.Step()) { }
        Assert.Equal(0, one.Result().CachedPromptTokens);
        Assert.Equal(8, two.Result().CachedPromptTokens);                 // two full 4-token blocks of the 11 shared
        Assert.Equal(expected.Tokens, two.Tokens);
        for (int i = 0; i < expected.Logprobs.Count; i++)
            Assert.Equal(expected.Logprobs[i].Chosen.Logprob, two.Logprobs[i].Chosen.Logprob, 4);
        Assert.Equal(0, warm.CacheBlocksInUse);
        Assert.True(warm.IdleCachedBlocks >= 3, $"{warm.IdleCachedBlocks} idle blocks");  // prompt + generated full blocks
    }
}
