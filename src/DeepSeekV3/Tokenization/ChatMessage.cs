namespace DeepSeekV3.Tokenization;

/// <summary>
/// One turn of a conversation: role "system", "user", "assistant" or "tool". An assistant turn that calls tools has
/// null <see cref="Content"/> and its <see cref="ToolCalls"/>, as in the OpenAI/transformers message format.
/// </summary>
public sealed record ChatMessage(string Role, string? Content, IReadOnlyList<ToolCall>? ToolCalls = null)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
    public static ChatMessage Tool(string content) => new("tool", content);
}

/// <summary>A function call made by the assistant; <see cref="Arguments"/> is the JSON text of the arguments.</summary>
public sealed record ToolCall(string Name, string Arguments, string Type = "function");
