using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Server;

namespace DeepSeekV3.Bench;

/// <summary>A server under test and a client that carries its key: the real server in this process on a loopback
/// port (<see cref="Start"/>), or real <c>dsv3 serve</c> processes (<see cref="ServeProcesses"/>).</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    public const string Key = "bench";

    private readonly Func<ValueTask> _stop;

    /// <param name="stop">Stops what serves <paramref name="address"/>.</param>
    public BenchServer(Uri address, Func<ValueTask> stop)
    {
        _stop = stop;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(10) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
    }

    public HttpClient Http { get; }

    /// <param name="prefillWorkers">In-process prefill workers apart from the decode loop (0: the decode loop prefills).</param>
    public static async Task<BenchServer> Start(string modelDir, ServingOptions serving, int prefillWorkers = 0)
    {
        var server = await OpenAiServer.StartAsync(new ServerOptions
        {
            ModelDirectory = modelDir,
            Port = 0,
            ApiKey = Key,
            LogRequests = false,
            Serving = serving,
            PrefillWorkers = prefillWorkers,
        });
        await server.ModelLoaded;
        return new BenchServer(server.Address, server.DisposeAsync);
    }

    /// <summary>Tokens the server's tokenizer makes of <paramref name="text"/> as a completion prompt.</summary>
    public async Task<int> CountTokens(string text)
    {
        using var response = await Http.PostAsync("/tokenize", new StringContent(JsonSerializer.Serialize(new { prompt = text }), Encoding.UTF8, "application/json"));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("count").GetInt32();
    }

    /// <summary>Nearest-rank percentile (NaN for no values).</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>A text of about <paramref name="tokens"/> tokens: <paramref name="sentence"/> repeated, each time numbered.</summary>
    public async Task<string> TextOf(int tokens, string sentence)
    {
        int perSentence = Math.Max(1, await CountTokens($"{sentence} (part 10). "));
        return string.Concat(Enumerable.Range(10, Math.Max(1, tokens / perSentence)).Select(i => $"{sentence} (part {i}). "));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _stop();
    }
}
