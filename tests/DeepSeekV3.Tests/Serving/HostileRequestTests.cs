using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DeepSeekV3.Tests.Serving;

/// <summary>Hundreds of malformed or hostile requests, generated from a valid body by breaking one thing at a time:
/// every one gets a 4xx with an OpenAI-style error (never a 500), and the server serves normally afterwards.</summary>
public class HostileRequestTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly JsonObject Chat = new()
    {
        ["model"] = "default",
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }),
        ["max_tokens"] = 4,
        ["temperature"] = 0,
    };

    private static readonly JsonObject Completion = new() { ["model"] = "default", ["prompt"] = "The jury", ["max_tokens"] = 4, ["temperature"] = 0 };

    /// <summary>For each field both endpoints share, values it must refuse.</summary>
    private static readonly Dictionary<string, JsonNode?[]> SharedFields = new()
    {
        ["temperature"] = [-1, 2.5, "hot", true, new JsonArray(), new JsonObject()],
        ["top_p"] = [0, 1.5, -0.1, "x", new JsonArray()],
        ["top_k"] = [-2, 1.5, "x", true],
        ["seed"] = [1.5, "x", JsonNode.Parse("1e30"), new JsonArray()],
        ["max_tokens"] = [0, -1, 1.5, "x", 3000, JsonNode.Parse("1e12"), new JsonObject()],
        ["max_completion_tokens"] = [0, -5, "x", 2.5],
        ["n"] = [0, 17, -1, "2", 1.5],
        ["stop"] = [5, new JsonArray(1), new JsonObject(), new JsonArray(Enumerable.Range(0, 17).Select(i => (JsonNode)$"s{i}").ToArray()), new JsonArray((JsonNode?)null)],
        ["stream"] = ["yes", 1, new JsonArray()],
        ["stream_options"] = ["x", new JsonObject { ["include_usage"] = true }],
        ["frequency_penalty"] = [1, "x", 3],
        ["presence_penalty"] = [0.5, -3],
        ["logit_bias"] = [new JsonObject { ["1"] = 5 }, "x"],
        ["response_format"] = [new JsonObject { ["type"] = "json_object" }, "x"],
        ["model"] = ["gpt-4", 5, new JsonArray()],
        ["ignore_eos"] = ["yes", 0],
    };

    private static readonly Dictionary<string, JsonNode?[]> ChatFields = new()
    {
        ["messages"] =
        [
            new JsonArray(), "hi", new JsonArray(1), new JsonArray(new JsonObject()), JsonNode.Parse("""[{"role": "user"}]"""),
            JsonNode.Parse("""[{"role": "wizard", "content": "x"}]"""), JsonNode.Parse("""[{"role": "user", "content": 5}]"""),
            JsonNode.Parse("""[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]"""),
            JsonNode.Parse("""[{"role": "user", "content": [5]}]"""), JsonNode.Parse("""[{"role": 5, "content": "x"}]"""),
            JsonNode.Parse("""[{"role": "assistant", "tool_calls": [5]}]"""), JsonNode.Parse("""[{"role": "user", "content": [{"type": "text", "text": 5}]}]"""),
        ],
        ["logprobs"] = ["x", 3],
        ["top_logprobs"] = [21, -1, 5],
        ["tools"] = [JsonNode.Parse("""[{"type": "function", "function": {"name": "f"}}]"""), "x"],
    };

    private static readonly Dictionary<string, JsonNode?[]> CompletionFields = new()
    {
        ["prompt"] =
        [
            new JsonArray(), 5, new JsonObject(), new JsonArray(true), JsonNode.Parse("""[[1, "a"]]"""), new JsonArray(-1),
            new JsonArray(999999), JsonNode.Parse("[[1.5]]"), new JsonArray(Enumerable.Range(0, 17).Select(i => (JsonNode)"p").ToArray()),
            string.Concat(Enumerable.Repeat("the jury said ", 1000)), new JsonArray(new JsonArray()),
        ],
        ["echo"] = [true, "x"],
        ["suffix"] = ["tail", 5],
        ["best_of"] = [2, 0, "x"],
        ["logprobs"] = [21, "x", true, -1],
    };

    private static readonly string[] MalformedBodies =
    [
        "", "{", "[", "null", "42", "\"text\"", "{\"a\":}", "{\"messages\": [}", "true", "{'single': 1}",
        new string('[', 200) + new string(']', 200), "{\"prompt\": \"\\ud800\"", "\u0000", "{\"max_tokens\": 1}x",
    ];

    public static IEnumerable<(string Path, string Body, string What)> Requests()
    {
        foreach (var (path, valid, fields) in new[]
                 {
                     ("/v1/chat/completions", Chat, SharedFields.Concat(ChatFields)),
                     ("/v1/completions", Completion, SharedFields.Concat(CompletionFields)),
                 })
            foreach (var (field, values) in fields)
                foreach (var value in values)
                {
                    var body = (JsonObject)valid.DeepClone();
                    body[field] = value?.DeepClone();
                    if (field == "stream_options") body["stream"] = value is JsonObject ? false : true;
                    if (field == "top_logprobs" && value?.GetValue<int>() == 5) body.Remove("logprobs");
                    yield return (path, body.ToJsonString(), $"{field} = {value?.ToJsonString() ?? "null"}");
                }
        foreach (string path in new[] { "/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize" })
            foreach (string body in MalformedBodies)
                yield return (path, body, $"malformed body {JsonSerializer.Serialize(body[..Math.Min(body.Length, 20)])}");
        foreach (string body in new[] { "{}", "{\"prompt\": 5}", "{\"prompt\": \"x\", \"add_special_tokens\": \"x\"}", "{\"messages\": []}", "{\"prompt\": \"x\", \"model\": \"other\"}" })
            yield return ("/tokenize", body, "tokenize " + body);
        foreach (string body in new[] { "{}", "{\"tokens\": \"x\"}", "{\"tokens\": [-1]}", "{\"tokens\": [1e20]}", "{\"tokens\": [99999]}", "{\"tokens\": [[1]]}" })
            yield return ("/detokenize", body, "detokenize " + body);
        yield return ("/v1/nothing", "{}", "unknown path");
        yield return ("/v1/chat/completions", "{\"messages\": \"" + new string('x', 70_000) + "\"}", "body over the size limit");
    }

    [Fact]
    public async Task Hundreds_of_bad_requests_get_4xx_errors_and_the_server_still_serves()
    {
        var requests = Requests().ToList();
        Assert.True(requests.Count >= 200, $"only {requests.Count} requests generated");
        var failures = new List<string>();
        foreach (var (path, body, what) in requests)
        {
            using var response = await server.Post(path, body);
            string text = await response.Content.ReadAsStringAsync();
            int status = (int)response.StatusCode;
            if (status is < 400 or >= 500)
            {
                failures.Add($"{path} {what}: {status} {text[..Math.Min(text.Length, 200)]}");
                continue;
            }
            var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), $"{path} {what}: no message");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {requests.Count} not refused with 4xx:\n" + string.Join("\n", failures));

        using var get = await server.Http.GetAsync("/v1/chat/completions");          // no GET route: the JSON 404
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Contains("\"error\"", await get.Content.ReadAsStringAsync());
        var reply = await server.PostJson("/v1/chat/completions", Chat);
        Assert.Equal("length", reply.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, await server.Metric("vllm:num_requests_running"));
        Assert.Equal(0, await server.Metric("vllm:num_requests_waiting"));
        Assert.Equal(0, server.Engine.CacheBlocksInUse);
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_gets_400_with_the_numbers()
    {
        var body = (JsonObject)Completion.DeepClone();
        body["prompt"] = new JsonArray(Enumerable.Range(0, 2100).Select(_ => (JsonNode)5).ToArray());
        using var response = await server.Post("/v1/completions", body.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string message = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("maximum context length is 2048 tokens", message);
        Assert.Contains("2100 in the prompt", message);
    }
}
