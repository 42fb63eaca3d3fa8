using DeepSeekV3.Server;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tokenization;
using Microsoft.Extensions.AI;

namespace DeepSeekV3.Tests.Serving;

/// <summary>The in-process IChatClient over the serving engine: the same replies as the HTTP API.</summary>
public class ChatClientTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private IChatClient Client() =>
        new DeepSeekChatClient(server.Engine, ByteLevelBpeTokenizer.Load(BundledModelTests.ModelDirectory()), "default");

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
