using System.Text.Json;
using System.Text.Json.Nodes;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Tokenization;
using Microsoft.AspNetCore.Http;

namespace DeepSeekV3.Server;

/// <summary>
/// POST /v1/chat/completions and /v1/completions. Every choice (n per prompt) is one request to the
/// <see cref="ServingEngine"/>, submitted before anything is written, so a request that cannot run is refused with
/// 400 as a whole. The client going away cancels every choice (the engine frees their cache at its next turn).
/// </summary>
internal sealed class CompletionEndpoints(ModelHost host, string modelName)
{
    public const int MaxPrompts = 16;

    public async Task Chat(HttpContext context)
    {
        var body = await RequestBody.ReadObject(context);
        var engine = host.Ready();
        CheckModel(body);
        var fields = GenerationFields.Read(body, chat: true, host.SamplingDefaults);
        var prompt = ChatTemplate.Encode(host.Tokenizer!, ChatMessagesReader.Read(body)).Select(i => (long)i).ToArray();
        await Run(context, engine, [prompt], fields, new ChatShape(host.Tokenizer!), engine.DefaultMaxTokens(prompt.Length));
    }

    public async Task Completions(HttpContext context)
    {
        var body = await RequestBody.ReadObject(context);
        var engine = host.Ready();
        CheckModel(body);
        var fields = GenerationFields.Read(body, chat: false, host.SamplingDefaults);
        var prompts = Prompts(body, host.Tokenizer!);
        int defaultMaxTokens = Math.Min(GenerationFields.CompletionsDefaultMaxTokens, prompts.Min(p => engine.DefaultMaxTokens(p.Length)));
        await Run(context, engine, prompts, fields, new CompletionShape(host.Tokenizer!), defaultMaxTokens);
    }

    /// <summary>"model", when given, must be the one this server serves (404 otherwise, as OpenAI and vLLM answer).</summary>
    public void CheckModel(JsonElement body)
    {
        string? model = JsonFields.String(body, "model");
        if (model is not null && model != modelName)
            throw new ApiException(404, $"The model `{model}` does not exist; this server serves `{modelName}`.", param: "model", code: "model_not_found");
    }

    private async Task Run(HttpContext context, ServingEngine engine, IReadOnlyList<long[]> prompts, GenerationFields fields,
        IResponseShape shape, int defaultMaxTokens)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var choices = new List<RequestStream>();
        try
        {
            foreach (var prompt in prompts)
                for (int i = 0; i < fields.N; i++)
                    choices.Add(engine.Submit(new TextRequest(prompt, fields.For(i, defaultMaxTokens), fields.Stop), cancel.Token));
        }
        catch
        {
            await cancel.CancelAsync();                    // the choices already queued leave
            throw;
        }
        var response = new CompletionResponse(context, shape, modelName, choices, fields.N, prompts.Sum(p => p.Length), fields.Sampling.Logprobs is not null);
        try
        {
            if (fields.Stream) await response.Stream(fields.IncludeUsage, cancel.Token);
            else await response.Whole(cancel.Token);
        }
        finally
        {
            await cancel.CancelAsync();                    // a failed write or a lost client: nothing keeps generating
        }
    }

    /// <summary>"prompt": a string, an array of strings, an array of token ids, or an array of such arrays.</summary>
    private static IReadOnlyList<long[]> Prompts(JsonElement body, ByteLevelBpeTokenizer tokenizer)
    {
        if (JsonFields.Get(body, "prompt") is not { } prompt)
            throw ApiException.BadRequest("'prompt' is required", "prompt");
        long[] Text(JsonElement text) => tokenizer.Encode(text.GetString()!, addSpecialTokens: true).Select(i => (long)i).ToArray();
        if (prompt.ValueKind == JsonValueKind.String) return [Text(prompt)];
        const string expected = "a string, an array of strings, an array of token ids, or an array of token-id arrays";
        if (prompt.ValueKind != JsonValueKind.Array || prompt.GetArrayLength() == 0) throw JsonFields.Wrong("prompt", "a non-empty " + expected, prompt);
        var items = prompt.EnumerateArray().ToArray();
        if (items.All(item => item.ValueKind == JsonValueKind.Number)) return [TokenIds(prompt, "prompt")];
        if (items.Length > MaxPrompts) throw ApiException.BadRequest($"'prompt' has {items.Length} prompts; at most {MaxPrompts} are allowed", "prompt");
        return items.Select((item, i) => item.ValueKind switch
        {
            JsonValueKind.String => Text(item),
            JsonValueKind.Array => TokenIds(item, $"prompt[{i}]"),
            _ => throw JsonFields.Wrong("prompt", expected, prompt),
        }).ToArray();
    }

    public static long[] TokenIds(JsonElement ids, string name)
    {
        if (ids.ValueKind != JsonValueKind.Array) throw JsonFields.Wrong(name, "an array of token ids", ids);
        return ids.EnumerateArray().Select((id, i) => id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out long value)
            ? value
            : throw JsonFields.Wrong($"{name}[{i}]", "an integer token id", id)).ToArray();
    }
}
