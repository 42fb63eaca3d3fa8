using System.Runtime.CompilerServices;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Tokenization;
using Microsoft.Extensions.AI;
using AIChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatMessage = DeepSeekV3.Tokenization.ChatMessage;

namespace DeepSeekV3.Server;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over an in-process <see cref="ServingEngine"/>: the same chat
/// template, sampling defaults (<paramref name="defaults"/>, normally <see cref="DefaultSampling.Of"/> the model: its
/// generation_config.json, else OpenAI's; max tokens = the rest of the context) and continuous batching as
/// /v1/chat/completions, without HTTP. Text content only; tools are refused. The engine is not owned: disposing the
/// client leaves it running.
/// </summary>
public sealed class DeepSeekChatClient(ServingEngine engine, ByteLevelBpeTokenizer tokenizer, string modelId, SamplingParams defaults)
    : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("deepseekv3.net", null, modelId);

    /// <summary>A client for the model in <paramref name="modelDirectory"/> that <paramref name="engine"/> runs: its
    /// tokenizer and its sampling defaults, as the server takes them.</summary>
    public static DeepSeekChatClient ForModel(ServingEngine engine, string modelDirectory, string modelId) =>
        new(engine, ByteLevelBpeTokenizer.Load(modelDirectory), modelId, DefaultSampling.Of(modelDirectory));

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AIChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var stream = Submit(messages, options, cancellationToken);
        while (await stream.Chunks.WaitToReadAsync(cancellationToken))
            while (stream.Chunks.TryRead(out _)) { }               // the completion holds the whole text
        var output = await stream.Completion;
        return new ChatResponse(new AIChatMessage(ChatRole.Assistant, output.Text))
        {
            ModelId = modelId,
            FinishReason = Finish(output.Result.FinishReason),
            Usage = Usage(output.Result),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AIChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stream = Submit(messages, options, cancellationToken);
        string id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        await foreach (var chunk in stream.Chunks.ReadAllAsync(cancellationToken))
            if (chunk.Text.Length > 0)
                yield return new ChatResponseUpdate(ChatRole.Assistant, chunk.Text) { ResponseId = id, ModelId = modelId };
        var output = await stream.Completion;
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(output.Result))])
        {
            ResponseId = id,
            ModelId = modelId,
            FinishReason = Finish(output.Result.FinishReason),
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose() { }

    private RequestStream Submit(IEnumerable<AIChatMessage> messages, ChatOptions? options, CancellationToken cancellation)
    {
        if (options?.Tools is { Count: > 0 }) throw new InvalidArgumentException("tools (function calling) are not supported yet");
        var turns = new List<ChatMessage>();
        if (options?.Instructions is { } instructions) turns.Add(ChatMessage.System(instructions));
        turns.AddRange(messages.Select(m => new ChatMessage(m.Role.Value, m.Text)));
        var prompt = ChatTemplate.Encode(tokenizer, turns).Select(i => (long)i).ToArray();
        // The HTTP API's rule (GenerationFields.Read): what the options leave out comes from the defaults.
        var sampling = defaults.WithRequested(options?.Temperature, options?.TopP, options?.TopK, null) with
        {
            Seed = options?.Seed,
            MaxTokens = options?.MaxOutputTokens ?? engine.DefaultMaxTokens(prompt.Length),
        };
        return engine.Submit(new TextRequest(prompt, sampling, options?.StopSequences?.ToArray() ?? []), cancellation);
    }

    private static ChatFinishReason Finish(FinishReason reason) =>
        reason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static UsageDetails Usage(GenerationResult result) => new()
    {
        InputTokenCount = result.PromptTokens,
        OutputTokenCount = result.Tokens.Length,
        TotalTokenCount = result.PromptTokens + result.Tokens.Length,
        CachedInputTokenCount = result.CachedPromptTokens,
    };
}
