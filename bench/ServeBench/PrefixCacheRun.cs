using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Bench;

/// <summary>
/// Time to first token with a shared long system prompt, prefix cache off and on: one client sends requests one after
/// another, each the same system prompt of about <c>systemTokens</c> tokens and its own short question. The first
/// request of each server fills the cache and is reported apart; the others' TTFT p50, and the cached prompt tokens
/// the usage reported, are compared.
/// </summary>
internal static class PrefixCacheRun
{
    public static async Task<List<object>> Run(string modelDir, int requests, int systemTokens)
    {
        var runs = new List<object>();
        Console.WriteLine($"{"prefix cache",12} {"requests",8} {"first TTFT",10} {"TTFT p50",9} {"TTFT p99",9} {"cached tokens/request",21}  (ms; system prompt ≈ {systemTokens} tokens)");
        foreach (bool prefixCaching in new[] { false, true })
        {
            await using var server = await BenchServer.Start(modelDir, new ServingOptions { MaxBatch = 8, PrefixCaching = prefixCaching });
            string system = await server.TextOf(systemTokens, "You are the archive's assistant; cite the register for every claim");
            await StreamedRequest.Run(server.Http, "Warm up", 8, system: "A different system prompt for the warm-up.");
            var first = await StreamedRequest.Run(server.Http, "Question 0?", 8, system);
            var rest = new List<StreamedRequest>();
            for (int i = 1; i < requests; i++) rest.Add(await StreamedRequest.Run(server.Http, $"Question {i}: who signed page {i}?", 8, system));
            var ttft = rest.Select(r => r.TtftSeconds).ToArray();
            var run = new
            {
                prefix_caching = prefixCaching,
                system_prompt_tokens = systemTokens,
                requests,
                first_ttft_seconds = first.TtftSeconds,
                ttft_seconds = new { p50 = BenchServer.Percentile(ttft, 50), p99 = BenchServer.Percentile(ttft, 99) },
                cached_tokens_mean = rest.Average(r => r.CachedTokens),
            };
            runs.Add(run);
            Console.WriteLine($"{(prefixCaching ? "on" : "off"),12} {requests,8} {1000 * first.TtftSeconds,10:F1} {1000 * run.ttft_seconds.p50,9:F1} " +
                              $"{1000 * run.ttft_seconds.p99,9:F1} {run.cached_tokens_mean,21:F0}");
        }
        return runs;
    }
}
