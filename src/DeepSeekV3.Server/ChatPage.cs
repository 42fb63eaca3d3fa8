using System.Globalization;
using System.Reflection;
using DeepSeekV3.Inference;
using Microsoft.AspNetCore.Http;

namespace DeepSeekV3.Server;

/// <summary>
/// GET /: the chat page (ChatPage/index.html, embedded in this assembly). It needs no key itself; it tells the page
/// whether the API needs one, so the page shows a key field only then. The page is one inline script and style and
/// loads nothing else: the Content-Security-Policy says so, so even a bug that put model text into markup could not
/// fetch or run anything from elsewhere. Its sampling fields start at the server's defaults for a request
/// (<see cref="DefaultSampling"/>: the model's generation_config.json, else OpenAI's), so the page samples as an API
/// client that leaves them out would.
/// </summary>
internal sealed class ChatPage(bool needsKey, SamplingParams defaults)
{
    private const string ResourceName = "DeepSeekV3.Server.ChatPage.index.html";
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private readonly string _html = Load()
        .Replace("{{API_KEY}}", needsKey ? "required" : "none", StringComparison.Ordinal)
        .Replace("{{TEMPERATURE}}", defaults.Temperature.ToString("R", CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{{TOP_P}}", defaults.TopP.ToString("R", CultureInfo.InvariantCulture), StringComparison.Ordinal);

    public Task Serve(HttpContext context)
    {
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.WriteAsync(_html, context.RequestAborted);
    }

    private static string Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the chat page resource {ResourceName} is missing from {Assembly.GetExecutingAssembly().Location}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
