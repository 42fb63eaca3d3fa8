using System.Text;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// DeepSeek-V3's chat template (the Jinja <c>chat_template</c> of its tokenizer_config.json) written out in C#:
/// <c>{bos}{system prompts joined by "\n\n"}&lt;｜User｜&gt;…&lt;｜Assistant｜&gt;…&lt;｜end▁of▁sentence｜&gt;</c>, with
/// tool calls as ```json blocks and tool results between <c>&lt;｜tool▁outputs▁begin｜&gt;</c> markers.
/// </summary>
/// <remarks>
/// Quirks of the original are kept on purpose, since the model was trained on them: every system message goes first
/// whatever its position; only the first tool-calling assistant turn of a conversation opens with
/// <c>&lt;｜Assistant｜&gt;&lt;｜tool▁calls▁begin｜&gt;</c> (later ones start with "\n"), and <c>&lt;｜tool▁calls▁end｜&gt;</c>
/// follows the second and later calls only. The rendered text already holds BOS: encode it with
/// <c>addSpecialTokens: false</c>, as transformers' <c>apply_chat_template</c> does.
/// </remarks>
public static class ChatTemplate
{
    public const string DefaultBosToken = "<｜begin▁of▁sentence｜>";

    /// <summary>The BOS text a conversation rendered for <paramref name="tokenizer"/> starts with: its BOS token, or
    /// DeepSeek-V3's when it has none.</summary>
    public static string BosToken(ByteLevelBpeTokenizer tokenizer) =>
        tokenizer.BosId is { } id ? tokenizer.IdToToken(id) ?? DefaultBosToken : DefaultBosToken;

    /// <summary>The prompt text for <paramref name="messages"/>; <paramref name="addGenerationPrompt"/> appends the
    /// "&lt;｜Assistant｜&gt;" that asks the model to answer (not after pending tool results).</summary>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, string bosToken = DefaultBosToken)
    {
        var text = new StringBuilder(bosToken);
        var systemPrompts = messages.Where(m => m.Role == "system").Select(m => m.Content ?? "");
        text.Append(string.Join("\n\n", systemPrompts));

        bool toolCallsStarted = false, inToolOutputs = false, firstToolOutput = true;
        foreach (var message in messages)
        {
            switch (message.Role)
            {
                case "user":
                    inToolOutputs = false;
                    text.Append("<｜User｜>").Append(message.Content);
                    break;
                case "assistant" when message.Content is null:
                    inToolOutputs = false;
                    foreach (var call in message.ToolCalls ?? [])
                    {
                        text.Append(toolCallsStarted ? "\n<｜tool▁call▁begin｜>" : "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>");
                        text.Append(call.Type).Append("<｜tool▁sep｜>").Append(call.Name)
                            .Append("\n```json\n").Append(call.Arguments).Append("\n```<｜tool▁call▁end｜>");
                        if (toolCallsStarted)
                            text.Append("<｜tool▁calls▁end｜><｜end▁of▁sentence｜>");
                        toolCallsStarted = true;
                    }
                    break;
                case "assistant":
                    text.Append(inToolOutputs ? "<｜tool▁outputs▁end｜>" : "<｜Assistant｜>").Append(message.Content).Append("<｜end▁of▁sentence｜>");
                    inToolOutputs = false;
                    break;
                case "tool":
                    inToolOutputs = true;
                    text.Append(firstToolOutput ? "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>" : "\n<｜tool▁output▁begin｜>")
                        .Append(message.Content).Append("<｜tool▁output▁end｜>");
                    firstToolOutput = false;
                    break;
            }
        }
        if (inToolOutputs)
            text.Append("<｜tool▁outputs▁end｜>");
        if (addGenerationPrompt && !inToolOutputs)
            text.Append("<｜Assistant｜>");
        return text.ToString();
    }

    /// <summary>The prompt ids for <paramref name="messages"/> with the generation prompt, BOS spelled as
    /// <paramref name="tokenizer"/> spells it.</summary>
    public static int[] Encode(ByteLevelBpeTokenizer tokenizer, IReadOnlyList<ChatMessage> messages)
    {
        return tokenizer.Encode(Render(messages, addGenerationPrompt: true, BosToken(tokenizer)), addSpecialTokens: false);
    }

    /// <summary>The Jinja source DeepSeek-V3 ships; written into tokenizer_config.json by the trainer so that
    /// transformers' <c>apply_chat_template</c> renders our tokenizers the same way.</summary>
    public const string Jinja = ChatTemplateJinja.DeepSeekV3;
}
