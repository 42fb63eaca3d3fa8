using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace DeepSeekV3.Server;

/// <summary>Reads a request body as one JSON object: malformed JSON, too deep a nesting, a body over the size limit
/// (413) or anything but an object are OpenAI-style errors.</summary>
internal static class RequestBody
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 32 };

    public static async Task<JsonElement> ReadObject(HttpContext context)
    {
        JsonElement root;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, Options, context.RequestAborted);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the request body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e)
        {
            throw new ApiException(e.StatusCode, $"the request body could not be read: {e.Message}");
        }
        if (root.ValueKind != JsonValueKind.Object)
            throw ApiException.BadRequest($"the request body must be a JSON object, got {root.ValueKind.ToString().ToLowerInvariant()}");
        return root;
    }
}
