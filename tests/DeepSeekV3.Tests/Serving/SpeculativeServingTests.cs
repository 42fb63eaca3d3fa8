using System.Globalization;
using System.Text.Json.Nodes;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Tests.Serving;

/// <summary>A server with MTP speculative decoding, switched per step by its rule: greedy answers equal the plain
/// server's, alone and together, and /metrics counts drafts, accepted tokens and steps by mode.</summary>
public class SpeculativeServingTests(SpeculativeServingTests.Speculative speculative, ServerFixture plain)
    : IClassFixture<SpeculativeServingTests.Speculative>, IClassFixture<ServerFixture>
{
    public sealed class Speculative : ServerFixture
    {
        protected override ServingOptions Serving => new() { MaxBatch = 4, Speculative = true };
    }

    private static JsonObject Request(int i) => new()
    {
        ["model"] = "default",
        ["prompt"] = $"Chapter {i}. The committee met on the {i + 2}th day and decided",
        ["max_tokens"] = 24,
        ["temperature"] = 0,
        ["ignore_eos"] = true,
    };

    private static async Task<string> Complete(ServerFixture server, JsonObject request) =>
        (await server.PostJson("/v1/completions", request)).GetProperty("choices")[0].GetProperty("text").GetString()!;

    private static double Steps(string metrics, string mode) => double.Parse(metrics.Split('\n')
        .First(l => l.StartsWith("dsv3:decode_steps_total{", StringComparison.Ordinal) && l.Contains($"mode=\"{mode}\"", StringComparison.Ordinal))
        .Split(' ')[^1], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Greedy_answers_equal_plain_decoding_and_the_metrics_count_both_kinds_of_step()
    {
        var expected = new List<string>();
        for (int i = 0; i < 4; i++) expected.Add(await Complete(plain, Request(i)));
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], await Complete(speculative, Request(i)));
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() => Complete(speculative, Request(i)))));
        Assert.Equal(expected, together);

        string metrics = await speculative.Http.GetStringAsync("/metrics");
        double mtpSteps = Steps(metrics, "mtp"), plainSteps = Steps(metrics, "plain");
        Assert.True(mtpSteps >= 1 && plainSteps >= 1, $"{mtpSteps} MTP and {plainSteps} plain steps: the rule measures both");
        double drafts = ServerFixture.MetricValue(metrics, "vllm:spec_decode_num_drafts_total");
        double accepted = ServerFixture.MetricValue(metrics, "vllm:spec_decode_num_accepted_tokens_total");
        Assert.True(drafts >= mtpSteps, $"{drafts} drafts in {mtpSteps} MTP steps");                  // one per sequence per MTP step
        Assert.InRange(accepted, 0, drafts);
        double estimate = ServerFixture.MetricValue(metrics, "dsv3:spec_decode_acceptance_estimate");
        Assert.Equal((accepted + 1) / (drafts + 2), estimate, 6);
    }

    [Fact]
    public async Task Greedy_answers_through_prefix_cache_hits_and_chunked_prefill_equal_plain_decoding()
    {
        // A shared opening of several 64-token blocks (prefix-cache hits after the first request) and prompts longer
        // than the 256-token prefill chunk: the MTP module gets its cache entries on both paths.
        string opening = string.Concat(Enumerable.Range(1, 40).Select(i => $"Entry {i}: the harbour master wrote down a ship. "));
        JsonObject Long(int i) => new()
        {
            ["model"] = "default",
            ["prompt"] = $"{opening}Question {i}: which ship came on day {i + 3}?",
            ["max_tokens"] = 16,
            ["temperature"] = 0,
            ["ignore_eos"] = true,
        };
        for (int i = 0; i < 3; i++)
        {
            var answer = await speculative.PostJson("/v1/completions", Long(i));
            int prompt = answer.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
            Assert.True(prompt > ServingOptions.DefaultPrefillChunk, $"{prompt} prompt tokens: not chunked");
            if (i > 0)
                Assert.True(answer.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32() >= 64, answer.ToString());
            Assert.Equal(await Complete(plain, Long(i)), answer.GetProperty("choices")[0].GetProperty("text").GetString());
        }
    }
}
