using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace DeepSeekV3.Bench;

/// <summary>What one streamed chat completion looked like from the client: time to the first content chunk, the
/// gaps between content chunks, and the completion and cached prompt tokens the usage chunk reported.</summary>
internal sealed record StreamedRequest(double TtftSeconds, IReadOnlyList<double> InterTokenSeconds, int CompletionTokens, int CachedTokens = 0)
{
    /// <summary>POSTs a streamed greedy chat completion with <c>ignore_eos</c> (so every request generates exactly
    /// <paramref name="maxTokens"/> tokens) and reads its SSE stream to the end; <paramref name="system"/> goes first
    /// as a system message.</summary>
    public static async Task<StreamedRequest> Run(HttpClient http, string question, int maxTokens, string? system = null)
    {
        var user = new { role = "user", content = question };
        string body = JsonSerializer.Serialize(new
        {
            messages = system is null ? new[] { user } : new[] { new { role = "system", content = system }, user },
            max_tokens = maxTokens,
            temperature = 0,
            ignore_eos = true,
            stream = true,
            stream_options = new { include_usage = true },
        });
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double? first = null, last = null;
        var gaps = new List<double>();
        int tokens = -1, cached = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line[6..];
            if (data == "[DONE]") break;
            using var chunk = JsonDocument.Parse(data);
            var root = chunk.RootElement;
            if (root.TryGetProperty("error", out var error)) throw new HttpRequestException($"stream error: {error}");
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                tokens = usage.GetProperty("completion_tokens").GetInt32();
                cached = usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
            }
            if (root.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
                && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 })
            {
                double now = clock.Elapsed.TotalSeconds;
                if (last is { } previous) gaps.Add(now - previous);
                first ??= now;
                last = now;
            }
        }
        if (first is null || tokens < 0) throw new InvalidDataException($"the stream for \"{question}\" had no content or no usage chunk");
        return new StreamedRequest(first.Value, gaps, tokens, cached);
    }
}
