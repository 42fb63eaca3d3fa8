using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Tests.Serving;

/// <summary>A server with room for two 128-token requests: 256 KV-cache tokens in 64-token blocks, batch 2, context 512.</summary>
public sealed class SmallBudgetFixture : ServerFixture
{
    protected override ServingOptions Serving => new() { MaxBatch = 2, KvCacheTokens = 256, MaxContext = 512, BlockSize = 64 };
}

/// <summary>Admission control: requests that can never fit are refused at once; the others queue until the batch and
/// the KV budget have room, and then produce what they produce alone.</summary>
public class AdmissionTests(SmallBudgetFixture server) : IClassFixture<SmallBudgetFixture>
{
    private static JsonObject Completion(string prompt, int maxTokens) => new()
    {
        ["model"] = "default",
        ["prompt"] = prompt,
        ["max_tokens"] = maxTokens,
        ["temperature"] = 0,
        ["ignore_eos"] = true,
    };

    private async Task<(HttpStatusCode Status, JsonElement Json)> Send(JsonObject body)
    {
        using var response = await server.Post("/v1/completions", body.ToJsonString());
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task A_request_larger_than_the_whole_kv_budget_is_refused_at_once_with_the_numbers()
    {
        var (status, json) = await Send(Completion("The jury", 300));      // within the 512 context, over the 256 budget
        Assert.Equal(HttpStatusCode.BadRequest, status);
        string message = json.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("whole KV budget is 256", message);
        Assert.Contains("300 in the completion", message);
        var (over, context) = await Send(Completion("The jury", 600));
        Assert.Equal(HttpStatusCode.BadRequest, over);
        Assert.Contains("maximum context length is 512 tokens", context.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Requests_beyond_the_budget_wait_in_the_queue_and_then_equal_their_runs_alone()
    {
        string[] prompts = ["The jury said", "The election was", "In the river", "明月", "The city", "A war"];
        var alone = new List<string>();
        foreach (string prompt in prompts)
            alone.Add((await Send(Completion(prompt, 100))).Json.GetProperty("choices")[0].GetProperty("text").GetString()!);
        int mostWaiting = 0, mostRunning = 0;
        using var stop = new CancellationTokenSource();
        var watch = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                mostWaiting = Math.Max(mostWaiting, server.Engine.Waiting);
                mostRunning = Math.Max(mostRunning, server.Engine.Running);
                await Task.Delay(1);
            }
        });
        var together = await Task.WhenAll(prompts.Select(p => Task.Run(() => Send(Completion(p, 100)))));
        await stop.CancelAsync();
        await watch;
        Assert.True(mostWaiting > 0, "no request ever waited");
        Assert.True(mostRunning <= 2, $"{mostRunning} requests ran at once; the budget holds two");
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, together[i].Status);
            Assert.Equal(alone[i], together[i].Json.GetProperty("choices")[0].GetProperty("text").GetString());
        }
        Assert.Equal(0, server.Engine.CacheBlocksInUse);
    }
}
