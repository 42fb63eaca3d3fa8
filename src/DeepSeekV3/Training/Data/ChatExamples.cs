using System.Text.Json;
using DeepSeekV3.IO;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Supervised fine-tuning data (report §5.1): conversations in chat-format JSONL, one per line as
/// <c>{"messages": [{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}, …]}</c>, rendered with
/// the model's chat template and tokenized with a loss mask that is true exactly on the assistant turns' tokens (their
/// content and the <c>&lt;｜end▁of▁sentence｜&gt;</c> that closes them), as TRL's <c>assistant_only_loss</c>.
/// </summary>
public static class ChatExamples
{
    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];

    /// <summary>Every conversation of <paramref name="path"/>, tokenized with its loss mask.</summary>
    public static List<SupervisedExample> Load(string path, ByteLevelBpeTokenizer tokenizer)
    {
        var examples = new List<SupervisedExample>();
        foreach (var record in JsonLinesRecord.Read(path))
        {
            var messages = Messages(record);
            if (!messages.Any(m => m.Role == "assistant"))
                throw record.Error("the conversation has no assistant turn: nothing to train on");
            examples.Add(Render(messages, tokenizer));
        }
        if (examples.Count == 0)
            throw new InvalidArgumentException($"--data \"{path}\": no conversations");
        return examples;
    }

    /// <summary>
    /// The conversation's tokens and mask. The template is rendered turn by turn: the text an assistant turn adds
    /// after the prompt that asks for it (<c>Render(turns before it, addGenerationPrompt: true)</c>) is its trained
    /// part. Every such boundary falls on a special token (<c>&lt;｜Assistant｜&gt;</c>, <c>&lt;｜end▁of▁sentence｜&gt;</c>),
    /// where the tokenizer splits anyway, so the pieces tokenize exactly as the whole text does (tested).
    /// </summary>
    public static SupervisedExample Render(IReadOnlyList<ChatMessage> messages, ByteLevelBpeTokenizer tokenizer)
    {
        string bos = ChatTemplate.BosToken(tokenizer);
        var tokens = new List<int>();
        var trained = new List<bool>();
        string done = "";
        void Append(string text, bool train)
        {
            var ids = tokenizer.Encode(text, addSpecialTokens: false);
            tokens.AddRange(ids);
            trained.AddRange(Enumerable.Repeat(train, ids.Length));
        }
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != "assistant") continue;
            string prompt = ChatTemplate.Render(messages.Take(i).ToList(), addGenerationPrompt: true, bos);
            string answered = ChatTemplate.Render(messages.Take(i + 1).ToList(), addGenerationPrompt: false, bos);
            if (!prompt.StartsWith(done, StringComparison.Ordinal) || !answered.StartsWith(prompt, StringComparison.Ordinal))
                throw new InvalidArgumentException($"message {i + 1}: the chat template does not render this conversation turn by turn");
            Append(prompt[done.Length..], train: false);
            Append(answered[prompt.Length..], train: true);
            done = answered;
        }
        string all = ChatTemplate.Render(messages, addGenerationPrompt: false, bos);
        if (all.Length > done.Length) Append(all[done.Length..], train: false);
        return new SupervisedExample([.. tokens], [.. trained]);
    }

    private static List<ChatMessage> Messages(JsonLinesRecord record)
    {
        var array = record.Required("messages", JsonValueKind.Array, "an array of {\"role\", \"content\"} objects");
        var messages = new List<ChatMessage>();
        int index = 0;
        foreach (var message in array.EnumerateArray())
        {
            string where = $"messages[{index++}]";
            if (message.ValueKind != JsonValueKind.Object)
                throw record.Error($"{where} is {JsonLinesRecord.Kind(message)}, expected an object with \"role\" and \"content\"");
            if (!message.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || !Roles.Contains(role.GetString()))
                throw record.Error($"{where}: \"role\" must be one of {string.Join(", ", Roles)}");
            if (!message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                throw record.Error($"{where}: \"content\" must be a string");
            messages.Add(new ChatMessage(role.GetString()!, content.GetString()));
        }
        if (messages.Count == 0)
            throw record.Error("\"messages\" is empty");
        return messages;
    }
}
