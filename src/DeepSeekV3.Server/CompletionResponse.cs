using System.Text.Json.Nodes;
using System.Threading.Channels;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Serving;
using Microsoft.AspNetCore.Http;

namespace DeepSeekV3.Server;

/// <summary>
/// Writes the choices of one API request, whole (one JSON object with usage) or streamed as server-sent events: a
/// chunk per generation step with new text, a last chunk per choice with its finish_reason, the usage chunk when
/// stream_options.include_usage asks for it, then <c>data: [DONE]</c>.
/// </summary>
internal sealed class CompletionResponse(HttpContext context, IResponseShape shape, string model,
    IReadOnlyList<RequestStream> choices, int choicesPerPrompt, int promptTokens, bool logprobs)
{
    private readonly string _id = shape.IdPrefix + Guid.NewGuid().ToString("N");
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public async Task Whole(CancellationToken cancellation)
    {
        var outputs = await Task.WhenAll(choices.Select(choice => Collect(choice, cancellation)));
        var json = Envelope(shape.WholeObject, outputs.Select((output, i) =>
            shape.WholeChoice(i, output.Result.Text, logprobs ? output.Logprobs : null, OpenAiJson.FinishReason(output.Result.Result.FinishReason))));
        json["usage"] = Usage(outputs.Select(o => o.Result.Result).ToArray());
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(OpenAiJson.Serialize(json), cancellation);
    }

    public async Task Stream(bool includeUsage, CancellationToken cancellation)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var events = Channel.CreateUnbounded<(int Index, StreamChunk? Chunk, TextResult? Done)>();
        _ = Merge(events.Writer, cancellation);
        for (int i = 0; i < choices.Count; i++)
            if (shape.OpeningChunk(i) is { } opening) await Send(Chunk([opening], includeUsage), cancellation);
        var offsets = new int[choices.Count];
        var results = new GenerationResult[choices.Count];
        await foreach (var (index, chunk, done) in events.Reader.ReadAllAsync(cancellation))
        {
            if (chunk is not null)
            {
                if (chunk.Text.Length == 0 && !(logprobs && chunk.Tokens.Count > 0)) continue;
                await Send(Chunk([shape.ChunkChoice(index, chunk.Text, logprobs ? chunk.Logprobs : null, offsets[index], null)], includeUsage), cancellation);
                offsets[index] += chunk.Text.Length;
                continue;
            }
            results[index] = done!.Result;
            var last = shape.ChunkChoice(index, "", logprobs ? [] : null, offsets[index], OpenAiJson.FinishReason(done.Result.FinishReason));
            await Send(Chunk([last], includeUsage), cancellation);
        }
        if (includeUsage)
        {
            var usage = Envelope(shape.ChunkObject, []);
            usage["usage"] = Usage(results);
            await Send(usage, cancellation);
        }
        await context.Response.WriteAsync("data: [DONE]\n\n", cancellation);
        await context.Response.Body.FlushAsync(cancellation);
    }

    /// <summary>Every choice's chunks, then its result, into one channel in the order they come; a failure ends the
    /// channel with its exception.</summary>
    private async Task Merge(ChannelWriter<(int, StreamChunk?, TextResult?)> events, CancellationToken cancellation)
    {
        try
        {
            await Task.WhenAll(choices.Select(async (choice, index) =>
            {
                await foreach (var chunk in choice.Chunks.ReadAllAsync(cancellation))
                    await events.WriteAsync((index, chunk, null), cancellation);
                await events.WriteAsync((index, null, await choice.Completion), cancellation);
            }));
            events.TryComplete();
        }
        catch (Exception e)
        {
            events.TryComplete(e);
        }
    }

    private static async Task<(TextResult Result, List<TokenLogprobs> Logprobs)> Collect(RequestStream choice, CancellationToken cancellation)
    {
        var logprobs = new List<TokenLogprobs>();
        await foreach (var chunk in choice.Chunks.ReadAllAsync(cancellation))
            logprobs.AddRange(chunk.Logprobs);
        return (await choice.Completion, logprobs);
    }

    private JsonObject Chunk(JsonObject[] choiceObjects, bool includeUsage)
    {
        var json = Envelope(shape.ChunkObject, choiceObjects);
        if (includeUsage) json["usage"] = null;                 // OpenAI: null in every chunk but the last
        return json;
    }

    private JsonObject Envelope(string type, IEnumerable<JsonObject> choiceObjects) =>
        OpenAiJson.Envelope(_id, type, _created, model, new JsonArray(choiceObjects.Select(c => (JsonNode)c).ToArray()));

    /// <summary>Prompt tokens once per prompt (not per choice); cached tokens likewise.</summary>
    private JsonObject Usage(IReadOnlyList<GenerationResult> results) => OpenAiJson.Usage(promptTokens,
        results.Sum(r => r.Tokens.Length),
        results.Where((_, i) => i % choicesPerPrompt == 0).Sum(r => r.CachedPromptTokens));

    private async Task Send(JsonObject json, CancellationToken cancellation)
    {
        await context.Response.WriteAsync("data: " + OpenAiJson.Serialize(json) + "\n\n", cancellation);
        await context.Response.Body.FlushAsync(cancellation);
    }
}
