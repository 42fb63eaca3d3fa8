using System.Text.Json.Nodes;
using DeepSeekV3.Tokenization;
using Microsoft.AspNetCore.Http;

namespace DeepSeekV3.Server;

/// <summary>GET /health, /v1/models, /metrics; POST /tokenize and /detokenize (vLLM's shapes).</summary>
internal sealed class InfoEndpoints(ModelHost host, CompletionEndpoints completions, string modelName)
{
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>503 while the model loads (or if it failed to), 200 once requests can run (llama.cpp's rule).</summary>
    public Task Health(HttpContext context)
    {
        if (!host.IsReady) host.Ready();                           // throws the 503
        return Json(context, new JsonObject { ["status"] = "ok" });
    }

    public Task Models(HttpContext context) => Json(context, new JsonObject
    {
        ["object"] = "list",
        ["data"] = new JsonArray(new JsonObject
        {
            ["id"] = modelName,
            ["object"] = "model",
            ["created"] = _created,
            ["owned_by"] = "deepseekv3.net",
            ["max_model_len"] = host.Engine?.MaxContext,
        }),
    });

    public Task Metrics(HttpContext context)
    {
        if (!host.IsReady) host.Ready();
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        string text = (host.Engine is { } engine ? PrometheusText.Render(engine, modelName) : "") +
                      (host.Workers is { } workers ? PrefillMetricsText.Render(workers, modelName) : "") +
                      (host.Parallel?.Metrics(modelName) ?? "");
        return context.Response.WriteAsync(text, context.RequestAborted);
    }

    /// <summary>{"prompt": text, "add_special_tokens": true} or {"messages": [...]} (the chat template with the
    /// generation prompt) → {"count", "max_model_len", "tokens"}.</summary>
    public async Task Tokenize(HttpContext context)
    {
        var body = await RequestBody.ReadObject(context);
        var engine = host.Ready();
        completions.CheckModel(body);
        var tokenizer = host.Tokenizer!;
        int[] tokens = JsonFields.Get(body, "messages") is not null
            ? ChatTemplate.Encode(tokenizer, ChatMessagesReader.Read(body))
            : tokenizer.Encode(JsonFields.String(body, "prompt") ?? throw ApiException.BadRequest("'prompt' or 'messages' is required", "prompt"),
                addSpecialTokens: JsonFields.Bool(body, "add_special_tokens") ?? true);
        await Json(context, new JsonObject
        {
            ["count"] = tokens.Length,
            ["max_model_len"] = engine.MaxContext,
            ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)t).ToArray()),
        });
    }

    /// <summary>{"tokens": [ids]} → {"prompt": text}.</summary>
    public async Task Detokenize(HttpContext context)
    {
        var body = await RequestBody.ReadObject(context);
        host.Ready();
        completions.CheckModel(body);
        var tokenizer = host.Tokenizer!;
        var ids = CompletionEndpoints.TokenIds(JsonFields.Get(body, "tokens") ?? throw ApiException.BadRequest("'tokens' is required", "tokens"), "tokens");
        foreach (long id in ids)
            if (id < 0 || id >= tokenizer.VocabSize)
                throw ApiException.BadRequest($"token {id} is outside the vocabulary [0, {tokenizer.VocabSize})", "tokens");
        await Json(context, new JsonObject { ["prompt"] = tokenizer.Decode(ids.Select(i => (int)i).ToArray()) });
    }

    public static Task Json(HttpContext context, JsonNode json, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(OpenAiJson.Serialize(json), context.RequestAborted);
    }
}
