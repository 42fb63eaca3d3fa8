using System.Diagnostics;
using System.Globalization;
using DeepSeekV3.Bench;
using DeepSeekV3.Inference.Serving;

// The HTTP server under load: 1, 8 and 32 concurrent clients, each sending streamed greedy chat completions one after
// another (ignore_eos, so every request generates --max-tokens tokens), against the real server (Kestrel on a
// loopback port, in this process) with the bundled model, or a larger random one (--model-preset); once with
// continuous batching (--max-batch 32) and once one request at a time (--max-batch 1). Client-side measures: total
// generated tokens/s over the wall time, time to first token and the gap between streamed chunks (≈ inter-token
// latency: a chunk is a token unless a UTF-8 character or a held-back stop string spans tokens), p50/p99. More parts:
// short streams while long prompts arrive (LongPromptRun), with and without chunked prefill (`chunked`) and colocated
// vs prefill workers vs separate prefill and decode processes (`pd`); time to first token with a shared long system
// prompt, prefix cache off and on (PrefixCacheRun). Each part writes its own JSON. Usage:
//   dotnet run -c Release --project bench/ServeBench -- [--part load,chunked,pd,prefix] [--short true] [--threads N]
//     [--clients 1,8,32] [--requests-per-client N] [--max-tokens N] [--batches 32,1] [--chunks 256,0]
//     [--long-tokens N] [--system-tokens N] [--model DIR | --model-preset random-190m]
var options = BenchArgs.Parse(args);
bool quick = options.GetValueOrDefault("short", "false") == "true";
int threads = Int("threads", 2), requestsPerClient = Int("requests-per-client", quick ? 2 : 4), maxTokens = Int("max-tokens", 64);
int[] clientCounts = Ints("clients", quick ? "8" : "1,8,32"), batches = Ints("batches", "32,1");
string[] parts = options.GetValueOrDefault("part", "load,chunked,pd,prefix").Split(',');
string bundled = Path.Combine(BenchPaths.RepoRoot(), "models", "default");
using var randomModel = options.TryGetValue("model-preset", out var preset) ? RandomModel.Create(preset, bundled) : null;
string modelDir = randomModel?.Directory ?? options.GetValueOrDefault("model", bundled);
string modelName = preset ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDir))).ToLowerInvariant();
string[] questions =
[
    "Tell me about the jury", "What did the committee say?", "Describe the election", "Who was the mayor?",
    "What happened in the city?", "Write about the weather", "What is the news today?", "Explain the vote",
];

var recorder = new BenchResults();
TorchSharp.torch.set_num_threads(threads);
int longTokens = Int("long-tokens", 1800), longRequestsPerClient = quick ? 2 : 6;
if (parts.Contains("chunked"))
{
    var setups = Ints("chunks", $"{ServingOptions.DefaultPrefillChunk},0").Select(chunk => new LongPromptRun.Setup(
        chunk > 0 ? $"chunked prefill {chunk}" : "whole-prompt prefill",
        () => BenchServer.Start(modelDir, LongPromptServing(chunk)))).ToList();
    var chunkedRuns = await LongPromptRun.Run(setups, shortClients: 4, longRequestsPerClient, maxTokens, longTokens);
    Save("serve-longprompt", new { threads, short_clients = 4, max_tokens = maxTokens, long_tokens = longTokens, max_batch = 16 }, chunkedRuns);
}
if (parts.Contains("pd"))
{
    // The same load as `chunked`; chunked prefill (the default chunk) wherever the decode loop prefills.
    int chunk = ServingOptions.DefaultPrefillChunk;
    LongPromptRun.Setup[] setups =
    [
        new($"colocated, chunk {chunk}", () => BenchServer.Start(modelDir, LongPromptServing(chunk))),
        new("1 prefill worker thread", () => BenchServer.Start(modelDir, LongPromptServing(chunk), prefillWorkers: 1)),
        new("prefill + decode processes", () => ServeProcesses.StartPrefillDecode(modelDir, threads,
            "--max-batch", "16", "--no-prefix-cache", "--prefill-chunk", $"{chunk}")),
    ];
    if (Environment.ProcessorCount < 2 * threads)
        Console.WriteLine($"note: {Environment.ProcessorCount} cores for 2 × {threads} compute threads: the prefill worker competes with the decode " +
                          "loop, and the two processes with each other, for the same cores; separation cannot show its benefit on this machine.");
    var pdRuns = await LongPromptRun.Run(setups, shortClients: 4, longRequestsPerClient, maxTokens, longTokens);
    Save("serve-pd", new
    {
        threads,
        cores = Environment.ProcessorCount,
        short_clients = 4,
        max_tokens = maxTokens,
        long_tokens = longTokens,
        max_batch = 16,
        prefill_chunk = chunk
    }, pdRuns);
}
if (parts.Contains("prefix"))
{
    int systemTokens = Int("system-tokens", 1500);
    var prefixRuns = await PrefixCacheRun.Run(modelDir, requests: quick ? 6 : 20, systemTokens);
    Save("serve-prefix", new { threads, system_tokens = systemTokens, max_tokens = 8 }, prefixRuns);
}
if (!parts.Contains("load")) return 0;
var runs = new List<object>();
Console.WriteLine($"{"max batch",9} {"clients",7} {"requests",8} {"tokens/s",9} {"TTFT p50",9} {"TTFT p99",9} {"ITL p50",8} {"ITL p99",8}  (ms)");
foreach (int maxBatch in batches)
{
    await using var server = await BenchServer.Start(modelDir, new ServingOptions { MaxBatch = maxBatch });
    var http = server.Http;
    await StreamedRequest.Run(http, questions[0], maxTokens);            // warm-up: kernels, allocators, the JIT
    foreach (int clients in clientCounts)
    {
        var clock = Stopwatch.StartNew();
        var results = (await Task.WhenAll(Enumerable.Range(0, clients).Select(async client =>
        {
            var mine = new List<StreamedRequest>();
            for (int r = 0; r < requestsPerClient; r++)
                mine.Add(await StreamedRequest.Run(http, questions[(client + r) % questions.Length], maxTokens));
            return mine;
        }))).SelectMany(r => r).ToList();
        double wall = clock.Elapsed.TotalSeconds;
        int tokens = results.Sum(r => r.CompletionTokens);
        var ttft = results.Select(r => r.TtftSeconds).ToArray();
        var itl = results.SelectMany(r => r.InterTokenSeconds).ToArray();
        var run = new
        {
            max_batch = maxBatch,
            clients,
            requests = results.Count,
            wall_seconds = wall,
            generated_tokens = tokens,
            tokens_per_second = tokens / wall,
            ttft_seconds = new { p50 = BenchServer.Percentile(ttft, 50), p99 = BenchServer.Percentile(ttft, 99), mean = ttft.Average() },
            inter_token_seconds = new { p50 = BenchServer.Percentile(itl, 50), p99 = BenchServer.Percentile(itl, 99), mean = itl.Average() },
        };
        runs.Add(run);
        Console.WriteLine($"{maxBatch,9} {clients,7} {results.Count,8} {tokens / wall,9:F1} {1000 * run.ttft_seconds.p50,9:F1} {1000 * run.ttft_seconds.p99,9:F1} " +
                          $"{1000 * run.inter_token_seconds.p50,8:F2} {1000 * run.inter_token_seconds.p99,8:F2}");
    }
}
Save("serve", new { threads, requests_per_client = requestsPerClient, max_tokens = maxTokens, temperature = 0, ignore_eos = true, stream = true }, runs);
return 0;

void Save(string name, object settings, List<object> results)
{
    Console.WriteLine($"load average before/after: {recorder.LoadBefore} / {BenchResults.LoadAverage()} (the machine is shared)");
    Console.WriteLine($"wrote {recorder.Save($"{name}-{modelName}-{threads}t{(quick ? "-short" : "")}", new { model = preset ?? modelDir, settings, runs = results })}");
}

int Int(string name, int fallback) => options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

// Prefix cache off: every long prompt is prefilled in full.
ServingOptions LongPromptServing(int chunk) => new() { MaxBatch = 16, PrefillChunk = chunk, PrefixCaching = false };

int[] Ints(string name, string fallback) =>
    options.GetValueOrDefault(name, fallback).Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
