using System.Text.Json;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

/// <summary>Our chat template against transformers.js' Jinja rendering of DeepSeek-V3's template (chat-reference.mjs).</summary>
public class ChatTemplateTests
{
    private static List<List<ChatMessage>> Conversations()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TokenizerTestFiles.DataDirectory, "chat.conversations.json")));
        return doc.RootElement.EnumerateArray().Select(c => c.EnumerateArray().Select(ToMessage).ToList()).ToList();
    }

    private static ChatMessage ToMessage(JsonElement m)
    {
        var content = m.GetProperty("content");
        List<ToolCall>? calls = m.TryGetProperty("tool_calls", out var tc)
            ? tc.EnumerateArray().Select(c => new ToolCall(c.GetProperty("function").GetProperty("name").GetString()!,
                c.GetProperty("function").GetProperty("arguments").GetString()!, c.GetProperty("type").GetString()!)).ToList()
            : null;
        return new ChatMessage(m.GetProperty("role").GetString()!, content.ValueKind == JsonValueKind.Null ? null : content.GetString(), calls);
    }

    [Fact]
    public void Render_equals_the_reference_rendering_for_multi_turn_and_tool_conversations()
    {
        var conversations = Conversations();
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(TokenizerTestFiles.DataDirectory, "chat.reference.json")));
        var expected = reference.RootElement.EnumerateArray().ToList();
        Assert.Equal(expected.Count, conversations.Count);
        for (int i = 0; i < conversations.Count; i++)
        {
            Assert.Equal(expected[i].GetProperty("with_prompt").GetString(), ChatTemplate.Render(conversations[i], addGenerationPrompt: true));
            Assert.Equal(expected[i].GetProperty("without_prompt").GetString(), ChatTemplate.Render(conversations[i], addGenerationPrompt: false));
        }
    }

    [Fact]
    public void Jinja_source_equals_the_template_in_DeepSeek_V3_tokenizer_config()
    {
        Assert.Equal(ChatTemplate.Jinja, TokenizerTestFiles.DeepSeekV3.Config.ChatTemplate);
    }

    [Fact]
    public void Rendered_prompt_encodes_to_role_tokens_and_starts_with_BOS()
    {
        var tokenizer = TokenizerTestFiles.DeepSeekV3;
        string prompt = ChatTemplate.Render([ChatMessage.System("Be brief."), ChatMessage.User("Hi")], addGenerationPrompt: true);
        int[] ids = tokenizer.Encode(prompt);
        Assert.Equal(0, ids[0]);
        Assert.Equal(tokenizer.TokenToId("<｜User｜>"), ids[^3]);
        Assert.Equal(tokenizer.TokenToId("<｜Assistant｜>"), ids[^1]);
    }
}
