using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeekV3.Inference;

namespace DeepSeekV3.Server;

/// <summary>The body of POST /v1/prefill, decode server → prefill server: the tokenized prompt and the sampling
/// parameters (the first token is drawn on the prefill side), under OpenAI/vLLM field names. Both sides use this one
/// definition.</summary>
internal static class PrefillRequestJson
{
    public static JsonObject Write(GenerationRequest request)
    {
        var s = request.Sampling;
        return new JsonObject
        {
            ["prompt"] = new JsonArray(request.Prompt.Select(t => (JsonNode)t).ToArray()),
            ["temperature"] = s.Temperature,
            ["top_k"] = s.TopK,
            ["top_p"] = s.TopP,
            ["seed"] = s.Seed,
            ["max_tokens"] = s.MaxTokens,
            ["stop_token_ids"] = new JsonArray(s.StopTokenIds.Select(t => (JsonNode)t).ToArray()),
            ["logprobs"] = s.Logprobs,
            ["ignore_eos"] = s.IgnoreEos,
        };
    }

    public static GenerationRequest Read(JsonElement body)
    {
        long[] prompt = CompletionEndpoints.TokenIds(JsonFields.Get(body, "prompt") ?? throw ApiException.BadRequest("'prompt' is required", "prompt"), "prompt");
        var stopIds = JsonFields.Get(body, "stop_token_ids") is { } ids ? CompletionEndpoints.TokenIds(ids, "stop_token_ids") : [];
        var sampling = new SamplingParams
        {
            Temperature = JsonFields.Number(body, "temperature", 0, double.MaxValue) ?? 0,
            TopK = (int)(JsonFields.Integer(body, "top_k", 0, int.MaxValue) ?? 0),
            TopP = JsonFields.Number(body, "top_p", 0, 1) ?? 1,
            Seed = JsonFields.Integer(body, "seed", long.MinValue, long.MaxValue),
            MaxTokens = (int)(JsonFields.Integer(body, "max_tokens", 1, int.MaxValue) ?? throw ApiException.BadRequest("'max_tokens' is required", "max_tokens")),
            StopTokenIds = stopIds,
            Logprobs = (int?)JsonFields.Integer(body, "logprobs", 0, SamplingParams.MaxTopLogprobs),
            IgnoreEos = JsonFields.Bool(body, "ignore_eos") ?? false,
        };
        return new GenerationRequest(prompt, sampling);
    }
}
