using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using DeepSeekV3.Server;
using DeepSeekV3.Tests.Inference;
using OpenAI;
using OpenAI.Chat;

namespace DeepSeekV3.Tests.Serving;

#pragma warning disable OPENAI001   // ChatCompletionOptions.Seed is marked experimental

/// <summary>
/// Prefill/decode separation across servers: a prefill server (`--role prefill`) and a decode server
/// (`--role decode --prefill URL`, the front clients talk to) answer the OpenAI SDK exactly as the colocated server
/// does (greedy, seeded sampling, streaming), as in-process Kestrel servers and as two real `dsv3` processes; a prefill
/// server that is gone or is not a prefill server gives an OpenAI-style 502 at once.
/// </summary>
public sealed class PrefillDecodeServingTests(ServerFixture colocated) : IClassFixture<ServerFixture>
{
    private static readonly ChatCompletionOptions[] Options =
    [
        new() { Temperature = 0, MaxOutputTokenCount = 20 },
        new() { Temperature = 0.9f, TopP = 0.95f, MaxOutputTokenCount = 16, Seed = 11 },
    ];

    private static readonly string[] Questions = ["Tell me about the river.", "What did the jury say about the election?"];

    private static OpenAIClient Client(Uri address) =>
        new(new ApiKeyCredential(ServerFixture.Key), new OpenAIClientOptions { Endpoint = new Uri(address, "/v1") });

    /// <summary>Each question under each option, whole and streamed (the streamed text concatenated).</summary>
    private static async Task<List<string>> Answers(OpenAIClient client)
    {
        var chat = client.GetChatClient("default");
        var answers = new List<string>();
        foreach (string question in Questions)
            foreach (var options in Options)
            {
                answers.Add((await chat.CompleteChatAsync([new UserChatMessage(question)], options)).Value.Content[0].Text);
                var streamed = new StringBuilder();
                await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(question)], options))
                    foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
                answers.Add(streamed.ToString());
            }
        return answers;
    }

    private static Task<OpenAiServer> Start(ServeRole role, Uri? prefill = null) => OpenAiServer.StartAsync(new ServerOptions
    {
        ModelDirectory = BundledModelTests.ModelDirectory(),
        Port = 0,
        ApiKey = ServerFixture.Key,
        LogRequests = false,
        Role = role,
        PrefillUrl = prefill,
    });

    /// <summary>A chat request that must fail with an OpenAI-style 502 within seconds (never a hang): its error JSON.</summary>
    private static async Task<JsonElement> BadGateway(Uri decode)
    {
        using var http = new HttpClient { BaseAddress = decode, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", ServerFixture.Key);
        using var response = await http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model":"default","messages":[{"role":"user","content":"Hi"}],"max_tokens":4}""", Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadGateway, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("error").Clone();
    }

    [Fact]
    public async Task Prefill_and_decode_servers_answer_as_the_colocated_server_does()
    {
        var expected = await Answers(colocated.OpenAi());
        await using var prefill = await Start(ServeRole.Prefill);
        await prefill.ModelLoaded;
        await using (var decode = await Start(ServeRole.Decode, prefill.Address))
        {
            await decode.ModelLoaded;
            Assert.Equal(expected, await Answers(Client(decode.Address)));

            using var http = new HttpClient { BaseAddress = decode.Address };
            string metrics = await http.GetStringAsync("/metrics");
            Assert.Equal(Questions.Length * Options.Length * 2, ServerFixture.MetricValue(metrics, "dsv3:prefills_received_total"));
            Assert.True(ServerFixture.MetricValue(metrics, "dsv3:kv_transfer_bytes_total") > 0, metrics);
            using var prefillHttp = new HttpClient { BaseAddress = prefill.Address };
            prefillHttp.DefaultRequestHeaders.Authorization = new("Bearer", ServerFixture.Key);
            string prefillMetrics = await prefillHttp.GetStringAsync("/metrics");
            Assert.Equal(Questions.Length * Options.Length * 2, ServerFixture.MetricValue(prefillMetrics, "dsv3:prefills_total"));
            Assert.Equal(ServerFixture.MetricValue(metrics, "dsv3:kv_transfer_bytes_total"),
                ServerFixture.MetricValue(prefillMetrics, "dsv3:prefill_kv_bytes_total"));
            // The prefill server serves no completions itself: it says where they go.
            using var misdirected = await prefillHttp.GetAsync("/v1/models");
            Assert.Equal(HttpStatusCode.NotFound, misdirected.StatusCode);
            Assert.Contains("prefill server", await misdirected.Content.ReadAsStringAsync());
        }

        // A decode server whose --prefill names a server that is not a prefill server (the colocated one).
        await using (var misconfigured = await Start(ServeRole.Decode, colocated.Server.Address))
        {
            await misconfigured.ModelLoaded;
            var error = await BadGateway(misconfigured.Address);
            Assert.Equal("prefill_failed", error.GetProperty("code").GetString());
            Assert.Contains("404", error.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task Two_real_dsv3_processes_answer_as_the_colocated_server_does_and_a_dead_prefill_gives_502()
    {
        var expected = await Answers(colocated.OpenAi());
        string model = BundledModelTests.ModelDirectory();
        using var prefill = ServeProcess.Serve("--role", "prefill", "--model", model, "--port", "0", "--api-key", ServerFixture.Key);
        var prefillAddress = await prefill.Ready(TimeSpan.FromSeconds(90));
        using var decode = ServeProcess.Serve("--role", "decode", "--prefill", prefillAddress.ToString(), "--model", model, "--port", "0",
            "--api-key", ServerFixture.Key);
        var decodeAddress = await decode.Ready(TimeSpan.FromSeconds(90));
        Assert.Equal(expected, await Answers(Client(decodeAddress)));

        prefill.Kill();
        var error = await BadGateway(decodeAddress);
        Assert.Equal("prefill_unavailable", error.GetProperty("code").GetString());
        Assert.False(decode.HasExited, decode.Log);
    }

    [Fact]
    public async Task With_mtp_two_real_dsv3_processes_answer_greedy_requests_as_the_colocated_servers_do()
    {
        // Greedy MTP output is the plain greedy output (SpeculativeServingTests); across the split the MTP module's
        // cache entries and the first draft travel with the prefill, and the decode side's drafts are counted.
        var greedy = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 };
        var expected = new List<string>();
        var chat = colocated.OpenAi().GetChatClient("default");
        foreach (string question in Questions)
            expected.Add((await chat.CompleteChatAsync([new UserChatMessage(question)], greedy)).Value.Content[0].Text);
        string model = BundledModelTests.ModelDirectory();
        using var prefill = ServeProcess.Serve("--role", "prefill", "--speculative", "mtp", "--model", model, "--port", "0", "--api-key", ServerFixture.Key);
        var prefillAddress = await prefill.Ready(TimeSpan.FromSeconds(90));
        using var decode = ServeProcess.Serve("--role", "decode", "--speculative", "mtp", "--prefill", prefillAddress.ToString(), "--model", model,
            "--port", "0", "--api-key", ServerFixture.Key);
        var decodeAddress = await decode.Ready(TimeSpan.FromSeconds(90));
        var split = Client(decodeAddress).GetChatClient("default");
        foreach (var (question, answer) in Questions.Zip(expected))
            Assert.Equal(answer, (await split.CompleteChatAsync([new UserChatMessage(question)], greedy)).Value.Content[0].Text);
        using var http = new HttpClient { BaseAddress = decodeAddress };
        string metrics = await http.GetStringAsync("/metrics");
        Assert.True(ServerFixture.MetricValue(metrics, "vllm:spec_decode_num_drafts_total") > 0, metrics);
        Assert.Equal(Questions.Length, ServerFixture.MetricValue(metrics, "dsv3:prefills_received_total"));
    }
}
