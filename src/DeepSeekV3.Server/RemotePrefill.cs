using System.Net.Http.Headers;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Server;

/// <summary>
/// The decode server's prefill source: each prompt goes to the prefill server's POST /v1/prefill, and the
/// <see cref="LatentCacheTransfer"/> frame that comes back (the prompt's latent cache, first token, sampler state) is
/// checked against this model's identity. A prefill server that is down, answers with an error, or serves another
/// model fails the request with a 502 naming it, at once (never a hang).
/// </summary>
internal sealed class RemotePrefill : IPrefillSource, IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly Func<string> _identity;

    /// <param name="identity">This side's model identity (known once the model has loaded).</param>
    public RemotePrefill(Uri prefillServer, string? apiKey, Func<string> identity)
    {
        _endpoint = new Uri(prefillServer, "/v1/prefill");
        _identity = identity;
        _http = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };          // a long prompt on a slow CPU
        if (apiKey is { Length: > 0 }) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public async Task<PrefilledRequest> PrefillAsync(GenerationRequest request, CancellationToken cancellation)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.PostAsync(_endpoint, JsonContent(request), cancellation);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException(502, $"the prefill server at {_endpoint} is unreachable: {e.Message}", "server_error", code: "prefill_unavailable");
        }
        using (response)
        {
            byte[] body;
            try
            {
                body = await response.Content.ReadAsByteArrayAsync(cancellation);
            }
            catch (HttpRequestException e)
            {
                throw new ApiException(502, $"the prefill server at {_endpoint} broke off its answer: {e.Message}", "server_error", code: "prefill_unavailable");
            }
            if (!response.IsSuccessStatusCode)
            {
                string text = System.Text.Encoding.UTF8.GetString(body);
                // Its refusal of the request itself (a 4xx) is the client's to see as such.
                int status = response.StatusCode == System.Net.HttpStatusCode.BadRequest ? 400 : 502;
                throw new ApiException(status, $"the prefill server answered {(int)response.StatusCode}: {Truncate(text)}", status == 502 ? "server_error" : "invalid_request_error",
                    code: "prefill_failed");
            }
            return LatentCacheTransfer.Decode(body, _identity());
        }
    }

    private static StringContent JsonContent(GenerationRequest request) =>
        new(PrefillRequestJson.Write(request).ToJsonString(), System.Text.Encoding.UTF8, "application/json");

    private static string Truncate(string text) => text.Length <= 500 ? text : text[..500] + "…";

    public void Dispose() => _http.Dispose();
}
