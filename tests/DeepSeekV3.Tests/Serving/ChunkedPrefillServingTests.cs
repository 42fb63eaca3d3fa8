using System.Text.Json.Nodes;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Tests.Serving;

/// <summary>Chunked prefill through the real server: with 16-token chunks, concurrent requests whose prompts go in
/// over several steps answer exactly what each answers alone, and what a server prefilling whole prompts answers.</summary>
public class ChunkedPrefillServingTests(ChunkedPrefillServingTests.Chunked chunked, ChunkedPrefillServingTests.Whole whole)
    : IClassFixture<ChunkedPrefillServingTests.Chunked>, IClassFixture<ChunkedPrefillServingTests.Whole>
{
    public sealed class Chunked : ServerFixture
    {
        protected override ServingOptions Serving => new() { MaxBatch = 8, PrefillChunk = 16, PrefixCaching = false };
    }

    public sealed class Whole : ServerFixture
    {
        protected override ServingOptions Serving => new() { MaxBatch = 8, PrefillChunk = 0, PrefixCaching = false };
    }

    private static JsonObject Request(int i) => new()
    {
        ["model"] = "default",
        ["prompt"] = string.Concat(Enumerable.Repeat($"Story {i}: the ship left the harbour at dawn and sailed north. ", 2 + 3 * i)),
        ["max_tokens"] = 10 + i,
        ["temperature"] = i % 2 == 0 ? 0 : 0.8,
        ["seed"] = 40 + i,
        ["ignore_eos"] = true,
    };

    private static async Task<(string Text, int Prompt)> Complete(ServerFixture server, JsonObject request)
    {
        var reply = await server.PostJson("/v1/completions", request);
        return (reply.GetProperty("choices")[0].GetProperty("text").GetString()!, reply.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task Concurrent_requests_with_chunked_prompts_answer_what_each_answers_alone_and_unchunked()
    {
        const int requests = 6;
        var unchunked = new List<(string Text, int Prompt)>();
        for (int i = 0; i < requests; i++) unchunked.Add(await Complete(whole, Request(i)));
        Assert.True(unchunked.Count(r => r.Prompt > 3 * 16) >= 3, "too few prompts span several chunks");
        var alone = new List<(string Text, int Prompt)>();
        for (int i = 0; i < requests; i++) alone.Add(await Complete(chunked, Request(i)));
        var together = await Task.WhenAll(Enumerable.Range(0, requests).Select(i => Task.Run(() => Complete(chunked, Request(i)))));
        for (int i = 0; i < requests; i++)
        {
            Assert.Equal(unchunked[i].Text, alone[i].Text);
            Assert.Equal(alone[i].Text, together[i].Text);
        }
    }
}
