using System.Text.Json.Nodes;
using DeepSeekV3.Inference;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Server;

/// <summary>chat.completion and chat.completion.chunk: a message, or deltas opened by the assistant role.</summary>
internal sealed class ChatShape(ByteLevelBpeTokenizer tokenizer) : IResponseShape
{
    public string IdPrefix => "chatcmpl-";
    public string WholeObject => "chat.completion";
    public string ChunkObject => "chat.completion.chunk";

    public JsonObject WholeChoice(int index, string text, IReadOnlyList<TokenLogprobs>? logprobs, string finishReason) => new()
    {
        ["index"] = index,
        ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text },
        ["logprobs"] = logprobs is null ? null : OpenAiJson.ChatLogprobs(tokenizer, logprobs),
        ["finish_reason"] = finishReason,
    };

    public JsonObject? OpeningChunk(int index) => Delta(index, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null, null);

    public JsonObject ChunkChoice(int index, string text, IReadOnlyList<TokenLogprobs>? logprobs, int textOffset, string? finishReason) =>
        Delta(index, finishReason is null || text.Length > 0 ? new JsonObject { ["content"] = text } : [],
            logprobs is null ? null : OpenAiJson.ChatLogprobs(tokenizer, logprobs), finishReason);

    private static JsonObject Delta(int index, JsonObject delta, JsonObject? logprobs, string? finishReason) => new()
    {
        ["index"] = index,
        ["delta"] = delta,
        ["logprobs"] = logprobs,
        ["finish_reason"] = finishReason,
    };
}
