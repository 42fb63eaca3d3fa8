using System.Text.Json;
using System.Text.Json.Nodes;

namespace DeepSeekV3.Tests.Serving;

/// <summary>Requests that run together in the continuous batch produce exactly what each produces alone, greedy and
/// sampled with a seed, streamed or not; a client that goes away frees its cache blocks.</summary>
public class ConcurrencyTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static JsonObject Request(int i) => new()
    {
        ["model"] = "default",
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = $"Conversation {i}: tell me about the {Subjects[i % Subjects.Length]}" }),
        ["max_tokens"] = 16 + 5 * i,
        ["temperature"] = i % 2 == 0 ? 0 : 0.9,
        ["seed"] = 100 + i,
        ["ignore_eos"] = true,
        ["stream"] = i % 3 == 0,
    };

    private static readonly string[] Subjects = ["jury", "election", "river", "moon", "city", "war"];

    /// <summary>The reply text, from a whole response or from the concatenated chunks of a stream.</summary>
    private async Task<string> Reply(JsonObject request)
    {
        using var response = await server.Post("/v1/chat/completions", request.ToJsonString());
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        if (request["stream"]!.GetValue<bool>())
            return string.Concat(text.Split("\n\n")
                .Where(e => e.StartsWith("data: {", StringComparison.Ordinal))
                .Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices"))
                .Where(c => c.GetArrayLength() > 0 && c[0].GetProperty("delta").TryGetProperty("content", out _))
                .Select(c => c[0].GetProperty("delta").GetProperty("content").GetString()));
        return JsonDocument.Parse(text).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
    }

    [Fact]
    public async Task Concurrent_conversations_produce_exactly_what_each_produces_alone()
    {
        const int conversations = 8;
        var alone = new List<string>();
        for (int i = 0; i < conversations; i++) alone.Add(await Reply(Request(i)));

        int mostRunning = 0;
        using var stop = new CancellationTokenSource();
        var watch = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                mostRunning = Math.Max(mostRunning, server.Engine.Running);
                await Task.Delay(1);
            }
        });
        var together = await Task.WhenAll(Enumerable.Range(0, conversations).Select(i => Task.Run(() => Reply(Request(i)))));
        await stop.CancelAsync();
        await watch;
        Assert.True(mostRunning > 1, "the requests never ran in one batch");
        for (int i = 0; i < conversations; i++)
            Assert.Equal(alone[i], together[i]);
        Assert.Equal(conversations, alone.Distinct().Count());
    }

    [Fact]
    public async Task A_client_that_goes_away_mid_stream_cancels_its_request_and_frees_its_cache()
    {
        double aborted = await AbortedRequests();
        var request = Request(0);
        request["stream"] = true;
        request["max_tokens"] = 1800;
        using (var message = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(request.ToJsonString()) })
        using (var response = await server.Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead))
        {
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var seen = new List<string>();
            while (seen.Count < 5)
                if (await reader.ReadLineAsync() is { } line && line.StartsWith("data: ", StringComparison.Ordinal)) seen.Add(line);
            Assert.True(server.Engine.Running == 1, $"running {server.Engine.Running}, waiting {server.Engine.Waiting}: {string.Join("\n", seen)}");
            Assert.True(server.Engine.CacheBlocksInUse > 0);
        }                                                       // the connection closes here, mid-stream
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((server.Engine.Running > 0 || server.Engine.CacheBlocksInUse > 0) && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.Equal(0, server.Engine.Running);
        Assert.Equal(0, server.Engine.CacheBlocksInUse);
        Assert.Equal(0, await server.Metric("vllm:kv_cache_usage_perc"));
        Assert.Equal(aborted + 1, await AbortedRequests());
    }

    private async Task<double> AbortedRequests()
    {
        string text = await server.Http.GetStringAsync("/metrics");
        string line = text.Split('\n').Single(l => l.StartsWith("vllm:request_success_total{", StringComparison.Ordinal) && l.Contains("\"abort\""));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
