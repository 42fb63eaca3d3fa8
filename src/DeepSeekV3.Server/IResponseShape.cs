using System.Text.Json.Nodes;
using DeepSeekV3.Inference;

namespace DeepSeekV3.Server;

/// <summary>Where chat completions and legacy completions differ: object names and the shape of a choice.</summary>
internal interface IResponseShape
{
    string IdPrefix { get; }
    string WholeObject { get; }
    string ChunkObject { get; }

    /// <summary>A choice of a whole response; <paramref name="logprobs"/> null when not asked for.</summary>
    JsonObject WholeChoice(int index, string text, IReadOnlyList<TokenLogprobs>? logprobs, string finishReason);

    /// <summary>The chunk that opens a choice's stream, if the API has one (chat: the assistant role).</summary>
    JsonObject? OpeningChunk(int index);

    /// <summary>A streamed piece of a choice; <paramref name="textOffset"/> is the length of its text sent before.</summary>
    JsonObject ChunkChoice(int index, string text, IReadOnlyList<TokenLogprobs>? logprobs, int textOffset, string? finishReason);
}
