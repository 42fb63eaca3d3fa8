using System.Text.Json.Nodes;
using DeepSeekV3.Inference;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Server;

/// <summary>text_completion, whole or streamed: a choice is its text.</summary>
internal sealed class CompletionShape(ByteLevelBpeTokenizer tokenizer) : IResponseShape
{
    public string IdPrefix => "cmpl-";
    public string WholeObject => "text_completion";
    public string ChunkObject => "text_completion";

    public JsonObject WholeChoice(int index, string text, IReadOnlyList<TokenLogprobs>? logprobs, string finishReason) =>
        ChunkChoice(index, text, logprobs, 0, finishReason);

    public JsonObject? OpeningChunk(int index) => null;

    public JsonObject ChunkChoice(int index, string text, IReadOnlyList<TokenLogprobs>? logprobs, int textOffset, string? finishReason) => new()
    {
        ["index"] = index,
        ["text"] = text,
        ["logprobs"] = logprobs is null ? null : OpenAiJson.CompletionLogprobs(tokenizer, logprobs, textOffset),
        ["finish_reason"] = finishReason,
    };
}
