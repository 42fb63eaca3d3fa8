using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DeepSeekV3.Tests.Inference;

namespace DeepSeekV3.Tests.Serving;

/// <summary>
/// `dsv3 serve --ep 2` under real mpiexec: rank 0 serves HTTP, both ranks hold half the routed experts and their
/// batches move in lockstep. Concurrent requests (admitted, stepped and finished at different times, one ended by a
/// stop string that only rank 0 sees) must produce the in-process server's text, across EPLB re-plans, and /metrics
/// must report the expert balance before and after the last re-plan.
/// </summary>
public sealed class ExpertParallelServingTests(ExpertParallelServingTests.LibTorchServer single)
    : IClassFixture<ExpertParallelServingTests.LibTorchServer>
{
    /// <summary>The in-process server on the LibTorch backend, which expert-parallel passes also run on.</summary>
    public sealed class LibTorchServer : ServerFixture
    {
        protected override DeepSeekV3.Inference.Serving.ServingOptions Serving => new() { MaxBatch = 8, Fused = false };
    }

    [Fact]
    public async Task An_expert_parallel_server_on_2_ranks_answers_as_one_process_does_and_reports_expert_balance()
    {
        var requests = new object[]
        {
            new { model = "default", prompt = "The history of", max_tokens = 14, temperature = 0 },
            new { model = "default", prompt = "In the morning the", max_tokens = 9, temperature = 0 },
            new { model = "default", prompt = "He said that", max_tokens = 12, temperature = 0.8, seed = 7 },
            new { model = "default", prompt = "The history of", max_tokens = 14, temperature = 0, stop = new[] { "States" } },
        };
        var expected = new List<string>();
        foreach (var request in requests)
            expected.Add(Text(await single.PostJson("/v1/completions", request)));

        using var job = ServeProcess.Start("mpiexec.mpich", ["-n", "2", "dotnet", ServeProcess.Dsv3, "serve", "--model", BundledModelTests.ModelDirectory(),
            "--port", "0", "--threads", "1", "--ep", "2", "--rebalance-every", "3", "--max-batch", "4"]);
        using var http = new HttpClient { BaseAddress = await job.Ready(TimeSpan.FromSeconds(90)) };
        var answers = await Task.WhenAll(requests.Select(async r =>
        {
            using var response = await http.PostAsync("/v1/completions",
                new StringContent(JsonSerializer.Serialize(r), Encoding.UTF8, "application/json"));
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}\n{job.Log}");
            return Text(JsonDocument.Parse(body).RootElement);
        }));
        Assert.Equal(expected, answers);
        Assert.DoesNotContain("States", answers[3]);

        string metrics = await http.GetStringAsync("/metrics");
        Assert.True(ServerFixture.MetricValue(metrics, "dsv3:eplb_replans_total") >= 1, metrics);
        double before = ServerFixture.MetricValue(metrics, "dsv3:expert_balancedness"), planned = ServerFixture.MetricValue(metrics, "dsv3:expert_balancedness_planned");
        Assert.InRange(before, 0.5, 1.0);                                                  // 2 ranks: mean / max ≥ 1/2
        Assert.InRange(planned, before, 1.0);                                              // a re-plan only ever helps
        Assert.Contains("[eplb] re-plan after", job.Log);
    }

    private static string Text(JsonElement completion) => completion.GetProperty("choices")[0].GetProperty("text").GetString()!;

    /// <summary>`mpiexec.mpich -n R dotnet dsv3.dll serve --ep R --port 0 …` on the bundled model, killed with its
    /// process tree on dispose; its address is read from the line rank 0 prints.</summary>
}
