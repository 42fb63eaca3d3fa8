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
public sealed partial class ExpertParallelServingTests(ExpertParallelServingTests.LibTorchServer single)
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

        using var job = ExpertParallelServer.Start(ranks: 2, "--rebalance-every", "3", "--max-batch", "4");
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
    private sealed partial class ExpertParallelServer : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();
        private readonly TaskCompletionSource<Uri> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ExpertParallelServer(Process process) => _process = process;

        public string Log
        {
            get { lock (_log) return _log.ToString(); }
        }

        public static ExpertParallelServer Start(int ranks, params string[] extra)
        {
            var info = new ProcessStartInfo("mpiexec.mpich") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in (string[])["-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet",
                         Path.Combine(AppContext.BaseDirectory, "dsv3.dll"), "serve", "--model", BundledModelTests.ModelDirectory(),
                         "--port", "0", "--threads", "1", "--ep", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra])
                info.ArgumentList.Add(a);
            info.Environment["OMP_NUM_THREADS"] = "1";
            var server = new ExpertParallelServer(Process.Start(info) ?? throw new InvalidOperationException("cannot start mpiexec.mpich"));
            void Read(string? line)
            {
                if (line is null) return;
                lock (server._log) server._log.AppendLine(line);
                if (ListeningAt().Match(line) is { Success: true } m) server._address.TrySetResult(new Uri(m.Groups[1].Value));
            }
            server._process.OutputDataReceived += (_, e) => Read(e.Data);
            server._process.ErrorDataReceived += (_, e) => Read(e.Data);
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            return server;
        }

        /// <summary>The server's address once /health answers 200.</summary>
        public async Task<Uri> Ready(TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            var address = await _address.Task.WaitAsync(timeout);
            using var http = new HttpClient { BaseAddress = address };
            while (clock.Elapsed < timeout)
            {
                if (_process.HasExited) throw new Xunit.Sdk.XunitException($"the server exited ({_process.ExitCode}):\n{Log}");
                try
                {
                    using var health = await http.GetAsync("/health");
                    if (health.IsSuccessStatusCode) return address;
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                await Task.Delay(200);
            }
            throw new Xunit.Sdk.XunitException($"the server was not ready in {timeout.TotalSeconds:F0} s:\n{Log}");
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }

        [GeneratedRegex(@"listening at (http://\S+?)/? ")]
        private static partial Regex ListeningAt();
    }
}
