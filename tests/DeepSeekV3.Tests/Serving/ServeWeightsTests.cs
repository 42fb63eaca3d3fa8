using System.Text;
using System.Text.Json;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Server;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Cli;
using DeepSeekV3.Tests.Inference;

namespace DeepSeekV3.Tests.Serving;

/// <summary><c>dsv3 serve --weights</c>: the server's engine on the fused decoder over the checkpoint's own weights (no
/// LibTorch model) answers a greedy completion with the tokens <c>dsv3 generate --weights stored</c> gives, with and
/// without MTP; what needs the LibTorch model is refused with a clear error.</summary>
public class ServeWeightsTests
{
    /// <summary>A tiny FP8 checkpoint with the bundled tokenizer beside it (its ids cover the tiny vocabulary).</summary>
    private static TempDirectory TinyFp8()
    {
        var dir = new TempDirectory();
        Assert.Equal(0, CliTests.Run("init", "--preset", "tiny", "--fp8", "--seed", "3", "--out", dir.Path).Code);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(BundledModelTests.ModelDirectory(), file), dir.File(file));
        return dir;
    }

    private static async Task<JsonElement> Post(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task A_server_on_stored_fp8_weights_completes_as_generate_with_stored_weights_does()
    {
        using var dir = TinyFp8();
        var (code, text, err) = CliTests.Run("generate", "--model", dir.Path, "--tokens", "4,5,6", "--max-tokens", "8", "--weights", "stored");
        Assert.True(code == 0, err);
        long[] generated = text.Split('\n').Single(l => l.StartsWith("generated:", StringComparison.Ordinal)).Split(':')[1].Trim()
            .Split(',').Select(long.Parse).ToArray();
        foreach (bool speculative in new[] { false, true })
        {
            await using var server = await OpenAiServer.StartAsync(new ServerOptions
            {
                ModelDirectory = dir.Path,
                Port = 0,
                LogRequests = false,
                Weights = WeightsMode.Stored,
                Serving = new ServingOptions { MaxBatch = 4, Speculative = speculative },
            });
            await server.ModelLoaded;
            using var http = new HttpClient { BaseAddress = server.Address };
            var expected = (await Post(http, "/detokenize", new { tokens = generated })).GetProperty("prompt").GetString();
            var answer = await Post(http, "/v1/completions", new { prompt = new[] { 4, 5, 6 }, max_tokens = 8, temperature = 0 });
            Assert.Equal(generated.Length, answer.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Equal(expected, answer.GetProperty("choices")[0].GetProperty("text").GetString());
            if (speculative)                                              // the rule measures an MTP step before it decides
                Assert.True(ServerFixture.MetricValue(await http.GetStringAsync("/metrics"), "vllm:spec_decode_num_drafts_total") >= 1);
        }
    }

    [Fact]
    public async Task Prefill_decode_separation_needs_the_libtorch_model()
    {
        var error = await Assert.ThrowsAsync<InvalidArgumentException>(() => OpenAiServer.StartAsync(new ServerOptions
        {
            ModelDirectory = BundledModelTests.ModelDirectory(),
            Port = 0,
            Weights = WeightsMode.Stored,
            PrefillWorkers = 1,
        }));
        Assert.Contains("--weights stored serves on the fused decoder without a LibTorch model", error.Message);
        var (code, _, err) = CliTests.Run("serve", "--weights", "stored", "--role", "prefill", "--port", "0");
        Assert.Equal(2, code);
        Assert.Contains("prefill/decode separation (--role, --prefill-workers) and --ep need the LibTorch model", err);
    }
}
