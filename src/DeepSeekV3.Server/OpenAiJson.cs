using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeekV3.Inference;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Server;

/// <summary>The JSON shapes of OpenAI's API that the server writes (field names as in its API reference).</summary>
internal static class OpenAiJson
{
    /// <summary>Non-ASCII text as itself rather than \u escapes (these bodies are JSON, never HTML).</summary>
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Serialize(JsonNode json) => json.ToJsonString(Options);

    public static JsonObject Error(ApiException e) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = e.Message,
            ["type"] = e.Type,
            ["param"] = e.Param,
            ["code"] = e.Code,
        },
    };

    public static string FinishReason(FinishReason reason) => reason switch
    {
        Inference.FinishReason.Length => "length",
        Inference.FinishReason.Stop => "stop",
        _ => "abort",
    };

    /// <summary>usage, with prompt_tokens_details.cached_tokens (the prompt tokens a cache already held).</summary>
    public static JsonObject Usage(int promptTokens, int completionTokens, int cachedTokens) => new()
    {
        ["prompt_tokens"] = promptTokens,
        ["completion_tokens"] = completionTokens,
        ["total_tokens"] = promptTokens + completionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = cachedTokens },
    };

    /// <summary>The envelope of a (chunk of a) chat completion or completion.</summary>
    public static JsonObject Envelope(string id, string type, long created, string model, JsonArray choices) => new()
    {
        ["id"] = id,
        ["object"] = type,
        ["created"] = created,
        ["model"] = model,
        ["choices"] = choices,
    };

    /// <summary>Chat logprobs: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}.</summary>
    public static JsonObject ChatLogprobs(ByteLevelBpeTokenizer tokenizer, IEnumerable<TokenLogprobs> tokens) => new()
    {
        ["content"] = new JsonArray(tokens.Select(t =>
        {
            var entry = ChatToken(tokenizer, t.Chosen);
            entry["top_logprobs"] = new JsonArray(t.Top.Select(top => (JsonNode)ChatToken(tokenizer, top)).ToArray());
            return (JsonNode)entry;
        }).ToArray()),
    };

    /// <summary>Completions logprobs: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.</summary>
    public static JsonObject CompletionLogprobs(ByteLevelBpeTokenizer tokenizer, IReadOnlyList<TokenLogprobs> tokens, int textOffset)
    {
        var offsets = new JsonArray();
        foreach (var t in tokens)
        {
            offsets.Add(textOffset);
            textOffset += TokenText(tokenizer, t.Chosen.Token).Length;
        }
        return new JsonObject
        {
            ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)TokenText(tokenizer, t.Chosen.Token)).ToArray()),
            ["token_logprobs"] = new JsonArray(tokens.Select(t => (JsonNode)t.Chosen.Logprob).ToArray()),
            ["top_logprobs"] = new JsonArray(tokens.Select(t =>
            {
                var top = new JsonObject();
                foreach (var alternative in t.Top) top[TokenText(tokenizer, alternative.Token)] = alternative.Logprob;
                return (JsonNode)top;
            }).ToArray()),
            ["text_offset"] = offsets,
        };
    }

    private static JsonObject ChatToken(ByteLevelBpeTokenizer tokenizer, TokenLogprob token) => new()
    {
        ["token"] = TokenText(tokenizer, token.Token),
        ["logprob"] = token.Logprob,
        ["bytes"] = new JsonArray(tokenizer.TokenBytes((int)token.Token).ToArray().Select(b => (JsonNode)(int)b).ToArray()),
    };

    /// <summary>A token's bytes as text (a token that ends inside a UTF-8 character shows U+FFFD, as OpenAI's does).</summary>
    public static string TokenText(ByteLevelBpeTokenizer tokenizer, long token) => Encoding.UTF8.GetString(tokenizer.TokenBytes((int)token));
}
