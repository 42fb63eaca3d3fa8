using System.Text.Json;
using DeepSeekV3.Server;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tokenization;
using Microsoft.Extensions.AI;

namespace DeepSeekV3.Tests.Serving;

/// <summary>The in-process IChatClient over the serving engine: the same replies as the HTTP API.</summary>
public class ChatClientTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private IChatClient Client() => DeepSeekChatClient.ForModel(server.Engine, BundledModelTests.ModelDirectory(), "default");

    private static readonly Microsoft.Extensions.AI.ChatMessage[] Question = [new(ChatRole.User, "Tell me about the jury")];

    [Fact]
    public async Task The_chat_client_s_reply_equals_the_http_api_s()
    {
        using var client = Client();
        var response = await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 20 });
        var http = await server.PostJson("/v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Tell me about the jury" } },
            temperature = 0,
            max_tokens = 20,
        });
        Assert.Equal(http.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), response.Text);
        Assert.Equal(http.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), response.Usage!.OutputTokenCount);
        Assert.Equal(http.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), response.Usage.InputTokenCount);
        // The chat-tuned model may end its turn before max_tokens: whichever, the same as the HTTP API's.
        string httpFinish = http.GetProperty("choices")[0].GetProperty("finish_reason").GetString()!;
        Assert.Equal(httpFinish == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("default", client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }

    [Fact]
    public async Task Without_sampling_options_the_client_samples_with_the_model_s_generation_config_as_the_server_does()
    {
        using var client = Client();
        var reply = await client.GetResponseAsync(Question, new ChatOptions { Seed = 11, MaxOutputTokens = 24 });
        object[] messages = [new { role = "user", content = "Tell me about the jury" }];
        async Task<string> Http(object body) =>
            (await server.PostJson("/v1/chat/completions", body)).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        // The server fills the same missing fields from the same file.
        Assert.Equal(await Http(new { messages, seed = 11, max_tokens = 24 }), reply.Text);
        // Those are the file's values, read here on their own (not OpenAI's temperature 1, top_p 1).
        using var file = JsonDocument.Parse(File.ReadAllText(Path.Combine(BundledModelTests.ModelDirectory(), "generation_config.json")));
        double temperature = file.RootElement.GetProperty("temperature").GetDouble(), topP = file.RootElement.GetProperty("top_p").GetDouble();
        double penalty = file.RootElement.GetProperty("repetition_penalty").GetDouble();
        Assert.NotEqual(1.0, temperature);
        Assert.Equal(await Http(new { messages, seed = 11, max_tokens = 24, temperature, top_p = topP, repetition_penalty = penalty }), reply.Text);
        Assert.NotEqual(await Http(new { messages, seed = 11, max_tokens = 24, temperature = 1.0, top_p = 1.0, repetition_penalty = 1.0 }), reply.Text);
        // A model without the file: OpenAI's defaults.
        var plain = new DeepSeekChatClient(server.Engine, ByteLevelBpeTokenizer.Load(BundledModelTests.ModelDirectory()), "default", DefaultSampling.OpenAi);
        var openAi = await plain.GetResponseAsync(Question, new ChatOptions { Seed = 11, MaxOutputTokens = 24 });
        Assert.Equal(await Http(new { messages, seed = 11, max_tokens = 24, temperature = 1.0, top_p = 1.0, repetition_penalty = 1.0 }), openAi.Text);
    }

    [Fact]
    public async Task Streaming_updates_add_up_to_the_reply_and_a_seed_reproduces_it()
    {
        using var client = Client();
        var options = new ChatOptions { Temperature = 0.9f, Seed = 3, MaxOutputTokens = 24 };
        var whole = await client.GetResponseAsync(Question, options);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Question, options)) updates.Add(update);
        Assert.True(updates.Count > 2);
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        var combined = updates.ToChatResponse();
        Assert.Equal(whole.Usage!.OutputTokenCount, combined.Usage!.OutputTokenCount);
        Assert.Equal(whole.FinishReason, combined.FinishReason);
    }
}
