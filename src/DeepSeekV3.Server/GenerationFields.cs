using System.Text.Json;
using DeepSeekV3.Inference;

namespace DeepSeekV3.Server;

/// <summary>
/// The fields of /v1/chat/completions and /v1/completions that say how to generate, checked: sampling (temperature,
/// top_p, top_k, seed, vLLM's ignore_eos and repetition_penalty), length (max_tokens or max_completion_tokens), stop strings, n, stream and
/// stream_options.include_usage, logprobs. Fields that would change the output in ways this server does not
/// implement (penalties, logit_bias, tools, structured output, echo, suffix, best_of) are refused rather than ignored;
/// unknown fields are ignored, as vLLM and OpenAI's own clients expect.
/// </summary>
internal sealed record GenerationFields(
    SamplingParams Sampling, int? MaxTokens, IReadOnlyList<string> Stop, int N, bool Stream, bool IncludeUsage)
{
    public const int MaxChoices = 16;
    public const int MaxStopStrings = 16;

    /// <summary>What the legacy completions API generates when max_tokens is not given (OpenAI's and vLLM's default).</summary>
    public const int CompletionsDefaultMaxTokens = 16;

    /// <param name="defaults">What a field the request leaves out takes: the model's generation_config.json over
    /// OpenAI's (<see cref="DefaultSampling"/>).</param>
    public static GenerationFields Read(JsonElement body, bool chat, SamplingParams defaults)
    {
        RefuseUnsupported(body, chat);
        long? seed = JsonFields.Integer(body, "seed", long.MinValue, long.MaxValue);
        long? maxTokens = JsonFields.Integer(body, "max_completion_tokens", 1, int.MaxValue)
                          ?? JsonFields.Integer(body, "max_tokens", 1, int.MaxValue);
        int? logprobs = chat ? ChatLogprobs(body) : (int?)JsonFields.Integer(body, "logprobs", 0, SamplingParams.MaxTopLogprobs);
        bool stream = JsonFields.Bool(body, "stream") ?? false;
        bool includeUsage = false;
        if (JsonFields.Get(body, "stream_options") is { } options)
        {
            if (options.ValueKind != JsonValueKind.Object) throw JsonFields.Wrong("stream_options", "an object", options);
            if (!stream) throw ApiException.BadRequest("'stream_options' is only allowed when 'stream' is true", "stream_options");
            includeUsage = JsonFields.Bool(options, "include_usage") ?? false;
        }
        long? topK = JsonFields.Integer(body, "top_k", -1, int.MaxValue);
        var sampling = defaults.WithRequested(
            JsonFields.Number(body, "temperature", 0, 2),
            JsonFields.Number(body, "top_p", 1e-9, 1),
            topK is { } k ? (int)Math.Max(0, k) : null,                                   // -1 and 0: off (vLLM)
            JsonFields.Number(body, "repetition_penalty", 1e-3, 100)) with                // vLLM's extra field
        {
            Seed = seed,
            Logprobs = logprobs,
            IgnoreEos = JsonFields.Bool(body, "ignore_eos") ?? false,     // vLLM's extra field
        };
        return new GenerationFields(sampling, (int?)maxTokens, JsonFields.Strings(body, "stop", MaxStopStrings),
            (int)(JsonFields.Integer(body, "n", 1, MaxChoices) ?? 1), stream, includeUsage);
    }

    /// <summary>The sampling parameters of choice <paramref name="choice"/>: max_tokens given or the default, and with
    /// a seed, seed + choice, so n choices differ yet each reproduces.</summary>
    public SamplingParams For(int choice, int defaultMaxTokens) => Sampling with
    {
        MaxTokens = MaxTokens ?? defaultMaxTokens,
        Seed = Sampling.Seed is { } seed ? unchecked(seed + choice) : null,
    };

    /// <summary>Chat: logprobs is a boolean, top_logprobs (0–20) the alternatives, allowed only with logprobs.</summary>
    private static int? ChatLogprobs(JsonElement body)
    {
        bool logprobs = JsonFields.Bool(body, "logprobs") ?? false;
        long? top = JsonFields.Integer(body, "top_logprobs", 0, SamplingParams.MaxTopLogprobs);
        if (top is not null && !logprobs)
            throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
        return logprobs ? (int)(top ?? 0) : null;
    }

    private static void RefuseUnsupported(JsonElement body, bool chat)
    {
        foreach (string penalty in new[] { "frequency_penalty", "presence_penalty" })
            if (JsonFields.Number(body, penalty, -2, 2) is { } value && value != 0)
                throw ApiException.BadRequest($"'{penalty}' is not supported by this server (only 0)", penalty);
        if (JsonFields.Get(body, "logit_bias") is { } bias && (bias.ValueKind != JsonValueKind.Object || bias.EnumerateObject().Any()))
            throw ApiException.BadRequest("'logit_bias' is not supported by this server", "logit_bias");
        if (JsonFields.Get(body, "response_format") is { } format &&
            !(format.ValueKind == JsonValueKind.Object && JsonFields.String(format, "type") == "text"))
            throw ApiException.BadRequest("'response_format' other than {\"type\": \"text\"} is not supported yet", "response_format");
        if (chat)
        {
            if (JsonFields.Get(body, "tools") is { } tools && (tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() > 0))
                throw ApiException.BadRequest("'tools' (function calling) is not supported yet", "tools");
            return;
        }
        if (JsonFields.Bool(body, "echo") == true) throw ApiException.BadRequest("'echo' is not supported", "echo");
        if (JsonFields.String(body, "suffix") is { Length: > 0 }) throw ApiException.BadRequest("'suffix' is not supported", "suffix");
        if (JsonFields.Integer(body, "best_of", 1, MaxChoices) is > 1)
            throw ApiException.BadRequest("'best_of' is not supported", "best_of");
    }
}
