using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Tests.Serving;

/// <summary>
/// The prefix cache through the real server: requests sharing a long system prompt reuse its full blocks
/// (usage.prompt_tokens_details.cached_tokens, vllm:prefix_cache_hits_total) and answer exactly what a server without
/// the cache answers; under a small KV budget idle blocks are evicted least recently used and serving stays correct.
/// </summary>
public class PrefixCacheServingTests(PrefixCacheServingTests.SmallBudget cached, PrefixCacheServingTests.Uncached uncached)
    : IClassFixture<PrefixCacheServingTests.SmallBudget>, IClassFixture<PrefixCacheServingTests.Uncached>
{
    /// <summary>12 blocks of 64 tokens: room for about three of the requests below at once.</summary>
    public sealed class SmallBudget : ServerFixture
    {
        protected override ServingOptions Serving => new() { MaxBatch = 4, KvCacheTokens = 12 * 64 };
    }

    public sealed class Uncached : ServerFixture
    {
        protected override ServingOptions Serving => new() { MaxBatch = 4, PrefixCaching = false };
    }

    private static string SystemPrompt(string topic) => string.Concat(Enumerable.Range(0, 9).Select(i =>
        $"Rule {i} about {topic}: answer briefly, stay on the subject of {topic}, and never repeat yourself. "));

    private static JsonObject Request(string system, string user, double temperature = 0) => new()
    {
        ["model"] = "default",
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "system", ["content"] = system },
            new JsonObject { ["role"] = "user", ["content"] = user }),
        ["max_tokens"] = 12,
        ["temperature"] = temperature,
        ["seed"] = 7,
        ["ignore_eos"] = true,
    };

    private static async Task<(string Text, int Cached, int Prompt)> Ask(ServerFixture server, JsonObject request)
    {
        var reply = await server.PostJson("/v1/chat/completions", request);
        var usage = reply.GetProperty("usage");
        return (reply.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!,
            usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(),
            usage.GetProperty("prompt_tokens").GetInt32());
    }

    private static async Task<long[]> Tokens(ServerFixture server, JsonObject request)
    {
        var reply = await server.PostJson("/tokenize", new JsonObject { ["model"] = "default", ["messages"] = request["messages"]!.DeepClone() });
        return reply.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt64()).ToArray();
    }

    [Fact]
    public async Task A_second_request_with_the_same_system_prompt_reuses_its_full_blocks_and_answers_the_same()
    {
        string system = SystemPrompt("juries");
        var first = Request(system, "What does a jury do?");
        var second = Request(system, "Who picks the jurors?", temperature: 0.9);
        long[] a = await Tokens(cached, first), b = await Tokens(cached, second);
        int common = a.Zip(b).TakeWhile(p => p.First == p.Second).Count();
        Assert.True(common >= 128, $"the shared prefix is {common} tokens: too short to fill two blocks");
        int expectedCached = Math.Min(common, b.Length - 1) / 64 * 64;

        var aloneFirst = await Ask(uncached, first);
        var aloneSecond = await Ask(uncached, second);
        double queries = await cached.Metric("vllm:prefix_cache_queries_total"), hits = await cached.Metric("vllm:prefix_cache_hits_total");
        var one = await Ask(cached, first);
        var two = await Ask(cached, second);
        Assert.Equal(aloneFirst.Text, one.Text);
        Assert.Equal(aloneSecond.Text, two.Text);
        Assert.Equal(0, one.Cached);
        Assert.Equal(expectedCached, two.Cached);
        Assert.Equal(0, aloneSecond.Cached);
        Assert.Equal(one.Prompt + two.Prompt, await cached.Metric("vllm:prefix_cache_queries_total") - queries);
        Assert.Equal(expectedCached, await cached.Metric("vllm:prefix_cache_hits_total") - hits);

        // Both at once, the same answers again (the second may find the first's blocks while it still runs, or not).
        var together = await Task.WhenAll(Task.Run(() => Ask(cached, first)), Task.Run(() => Ask(cached, second)));
        Assert.Equal(aloneFirst.Text, together[0].Text);
        Assert.Equal(aloneSecond.Text, together[1].Text);
    }

    [Fact]
    public async Task Under_a_small_budget_the_least_recently_used_prefixes_are_evicted_and_answers_stay_exact()
    {
        string[] topics = ["rivers", "moons", "cities", "elections", "harbours", "bridges"];
        var requests = topics.Select(t => Request(SystemPrompt(t), $"Tell me about {t}.")).ToArray();
        var alone = new List<string>();
        foreach (var request in requests) alone.Add((await Ask(uncached, request)).Text);

        for (int i = 0; i < requests.Length; i++)
        {
            var answer = await Ask(cached, requests[i]);
            Assert.Equal(alone[i], answer.Text);
            Assert.True(cached.Engine.PrefixCachedBlocks + cached.Engine.CacheBlocksInUse <= cached.Engine.KvCacheBlocks,
                $"{cached.Engine.PrefixCachedBlocks} idle + {cached.Engine.CacheBlocksInUse} in use > {cached.Engine.KvCacheBlocks} blocks");
        }
        Assert.True(cached.Engine.PrefixCachedBlocks > 0);
        var recent = await Ask(cached, requests[^1]);                     // still cached
        Assert.Equal(alone[^1], recent.Text);
        Assert.True(recent.Cached >= 128, $"the last prompt found {recent.Cached} cached tokens");
        var oldest = await Ask(cached, requests[0]);                      // evicted by the later ones
        Assert.Equal(alone[0], oldest.Text);
        Assert.Equal(0, oldest.Cached);
    }
}
