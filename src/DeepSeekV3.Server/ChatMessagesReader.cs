using System.Text;
using System.Text.Json;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Server;

/// <summary>
/// Reads OpenAI chat messages into the chat template's: roles system (and "developer", its newer name), user,
/// assistant (text, or tool calls with null content) and tool; content as a string or as text parts.
/// </summary>
internal static class ChatMessagesReader
{
    public static IReadOnlyList<ChatMessage> Read(JsonElement body)
    {
        if (JsonFields.Get(body, "messages") is not { } messages)
            throw ApiException.BadRequest("'messages' is required", "messages");
        if (messages.ValueKind != JsonValueKind.Array) throw JsonFields.Wrong("messages", "an array of messages", messages);
        if (messages.GetArrayLength() == 0) throw ApiException.BadRequest("'messages' must not be empty", "messages");
        return messages.EnumerateArray().Select((message, i) => Message(message, $"messages[{i}]")).ToArray();
    }

    private static ChatMessage Message(JsonElement message, string path)
    {
        if (message.ValueKind != JsonValueKind.Object) throw JsonFields.Wrong(path, "an object", message);
        string role = Field(() => JsonFields.String(message, "role"), path) ?? throw ApiException.BadRequest($"'{path}.role' is required", $"{path}.role");
        string? content = Content(message, path);
        switch (role)
        {
            case "system" or "developer":
                return ChatMessage.System(content ?? "");
            case "user":
                return ChatMessage.User(content ?? throw ApiException.BadRequest($"'{path}.content' is required for a user message", $"{path}.content"));
            case "tool":
                return ChatMessage.Tool(content ?? "");
            case "assistant":
                var calls = ToolCalls(message, path);
                return calls.Count > 0 && string.IsNullOrEmpty(content)
                    ? new ChatMessage("assistant", null, calls)
                    : ChatMessage.Assistant(content ?? "");
            default:
                throw ApiException.BadRequest($"'{path}.role' must be system, developer, user, assistant or tool, got \"{role}\"", $"{path}.role");
        }
    }

    /// <summary>A string, or an array of {"type": "text", "text": ...} parts joined.</summary>
    private static string? Content(JsonElement message, string path)
    {
        string name = $"{path}.content";
        if (JsonFields.Get(message, "content") is not { } content) return null;
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array) throw JsonFields.Wrong(name, "a string or an array of text parts", content);
        var text = new StringBuilder();
        int i = 0;
        foreach (var part in content.EnumerateArray())
        {
            string partPath = $"{name}[{i++}]";
            if (part.ValueKind != JsonValueKind.Object) throw JsonFields.Wrong(partPath, "an object", part);
            string? type = Field(() => JsonFields.String(part, "type"), partPath);
            if (type != "text")
                throw ApiException.BadRequest($"'{partPath}.type' must be \"text\" (this model reads text only), got \"{type}\"", partPath);
            text.Append(Field(() => JsonFields.String(part, "text"), partPath) ?? "");
        }
        return text.ToString();
    }

    private static IReadOnlyList<ToolCall> ToolCalls(JsonElement message, string path)
    {
        if (JsonFields.Get(message, "tool_calls") is not { } calls) return [];
        if (calls.ValueKind != JsonValueKind.Array) throw JsonFields.Wrong($"{path}.tool_calls", "an array", calls);
        return calls.EnumerateArray().Select((call, i) =>
        {
            string callPath = $"{path}.tool_calls[{i}]";
            if (call.ValueKind != JsonValueKind.Object || JsonFields.Get(call, "function") is not { ValueKind: JsonValueKind.Object } function)
                throw ApiException.BadRequest($"'{callPath}' must be an object with a 'function' object", callPath);
            string name = Field(() => JsonFields.String(function, "name"), callPath + ".function") ?? "";
            string arguments = Field(() => JsonFields.String(function, "arguments"), callPath + ".function") ?? "{}";
            return new ToolCall(name, arguments);
        }).ToArray();
    }

    /// <summary>Runs a field read, naming the whole path in its error.</summary>
    private static T Field<T>(Func<T> read, string path)
    {
        try
        {
            return read();
        }
        catch (ApiException e)
        {
            throw ApiException.BadRequest($"in '{path}': {e.Message}", e.Param is null ? path : $"{path}.{e.Param}");
        }
    }
}
