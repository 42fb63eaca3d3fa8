using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Server;
using DeepSeekV3.Tests.Inference;
using OpenAI;

namespace DeepSeekV3.Tests.Serving;

/// <summary>
/// The real server (Kestrel on a free loopback port) with the bundled model and an API key, started once per test
/// class and stopped after it. Clients: the official OpenAI SDK, and a raw HttpClient for what the SDK will not send.
/// </summary>
public class ServerFixture : IAsyncLifetime
{
    public const string Key = "test-key";

    protected virtual ServingOptions Serving => new() { MaxBatch = 8 };

    public OpenAiServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public ServingEngine Engine => Server.Engine!;

    public async Task InitializeAsync()
    {
        Server = await OpenAiServer.StartAsync(new ServerOptions
        {
            ModelDirectory = BundledModelTests.ModelDirectory(),
            Port = 0,
            ApiKey = Key,
            Serving = Serving,
            LogRequests = false,
            MaxBodyBytes = 64 << 10,
        });
        await Server.ModelLoaded;
        Http = new HttpClient { BaseAddress = Server.Address };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
    }

    public OpenAIClient OpenAi(string key = Key) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(Server.Address, "/v1") });

    /// <summary>POSTs a JSON body (given as text, so malformed bodies can be sent too).</summary>
    public Task<HttpResponseMessage> Post(string path, string body) =>
        Http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

    public async Task<JsonElement> PostJson(string path, object body)
    {
        using var response = await Post(path, JsonSerializer.Serialize(body));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The value of a metric line "name{labels} value" in /metrics.</summary>
    public async Task<double> Metric(string name) => MetricValue(await Http.GetStringAsync("/metrics"), name);

    /// <summary>The value of the first series named <paramref name="name"/> in a Prometheus text.</summary>
    public static double MetricValue(string text, string name)
    {
        string line = text.Split('\n').First(l => l.StartsWith(name + "{", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
