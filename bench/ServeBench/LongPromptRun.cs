using System.Diagnostics;

namespace DeepSeekV3.Bench;

/// <summary>
/// Short streaming requests while long prompts keep arriving: for each setup (a server: chunked prefill or not,
/// prefill workers, separate prefill and decode processes; prefix cache off, so every long prompt is prefilled in
/// full), <c>shortClients</c> clients send streamed requests one after another and one client sends long prompts (a
/// new document each time) for as long as the short ones run. Measured at the client: the short requests'
/// inter-token gaps p50/p99 and tokens/s, and the long prompts' time to first token.
/// </summary>
internal static class LongPromptRun
{
    /// <summary>One server configuration under the load.</summary>
    /// <param name="Name">Its row in the table and JSON.</param>
    /// <param name="Start">Starts it (loaded and ready).</param>
    public sealed record Setup(string Name, Func<Task<BenchServer>> Start);

    public static async Task<List<object>> Run(IReadOnlyList<Setup> setups, int shortClients, int requestsPerClient, int maxTokens, int longTokens)
    {
        var runs = new List<object>();
        Console.WriteLine($"{"setup",-26} {"short tok/s",11} {"ITL p50",8} {"ITL p99",8} {"ITL max",8} {"long prompts",12} {"long TTFT p50",13} " +
                          $"{"long TTFT p99",13}  (ms; long prompt ≈ {longTokens} tokens)");
        foreach (var setup in setups)
        {
            await using var server = await setup.Start();
            string document = await server.TextOf(longTokens, "The harbour master wrote down every ship that came in");
            await StreamedRequest.Run(server.Http, "Warm up", maxTokens);
            await StreamedRequest.Run(server.Http, "Document 0: " + document + " Summarize.", 2);
            using var done = new CancellationTokenSource();
            var longTtft = new List<double>();
            var longClient = Task.Run(async () =>
            {
                for (int k = 1; !done.IsCancellationRequested; k++)
                    longTtft.Add((await StreamedRequest.Run(server.Http, $"Document {k}: " + document + " Summarize.", 2)).TtftSeconds);
            });
            var clock = Stopwatch.StartNew();
            var shorts = (await Task.WhenAll(Enumerable.Range(0, shortClients).Select(async client =>
            {
                var mine = new List<StreamedRequest>();
                for (int r = 0; r < requestsPerClient; r++)
                    mine.Add(await StreamedRequest.Run(server.Http, $"Tell me story {client}.{r}", maxTokens));
                return mine;
            }))).SelectMany(r => r).ToList();
            double wall = clock.Elapsed.TotalSeconds;
            await done.CancelAsync();
            await longClient;
            var itl = shorts.SelectMany(r => r.InterTokenSeconds).ToArray();
            var run = new
            {
                setup = setup.Name,
                short_clients = shortClients,
                short_requests = shorts.Count,
                short_tokens_per_second = shorts.Sum(r => r.CompletionTokens) / wall,
                short_inter_token_seconds = new { p50 = BenchServer.Percentile(itl, 50), p99 = BenchServer.Percentile(itl, 99), max = itl.Max() },
                long_prompt_tokens = longTokens,
                long_prompts = longTtft.Count,
                long_ttft_seconds = new { p50 = BenchServer.Percentile(longTtft, 50), p99 = BenchServer.Percentile(longTtft, 99) },
            };
            runs.Add(run);
            Console.WriteLine($"{setup.Name,-26} {run.short_tokens_per_second,11:F1} {1000 * run.short_inter_token_seconds.p50,8:F2} " +
                              $"{1000 * run.short_inter_token_seconds.p99,8:F2} {1000 * run.short_inter_token_seconds.max,8:F1} {longTtft.Count,12} " +
                              $"{1000 * run.long_ttft_seconds.p50,13:F1} {1000 * run.long_ttft_seconds.p99,13:F1}");
        }
        return runs;
    }
}
