using DeepSeekV3.Inference.Serving;
using Microsoft.AspNetCore.Http;

namespace DeepSeekV3.Server;

/// <summary>The prefill server (<c>dsv3 serve --role prefill</c>): POST /v1/prefill takes a tokenized prompt and
/// sampling parameters (<see cref="PrefillRequestJson"/>) and answers with the <see cref="LatentCacheTransfer"/> frame
/// its prefill workers made.</summary>
internal sealed class PrefillEndpoints(ModelHost host)
{
    public async Task Prefill(HttpContext context)
    {
        var body = await RequestBody.ReadObject(context);
        var workers = host.ReadyWorkers();
        var request = PrefillRequestJson.Read(body);
        workers.Validate(request);
        var prefilled = await workers.PrefillAsync(request, context.RequestAborted);
        byte[] frame = LatentCacheTransfer.Encode(prefilled);
        context.Response.ContentType = LatentCacheTransfer.MediaType;
        context.Response.ContentLength = frame.Length;
        await context.Response.Body.WriteAsync(frame, context.RequestAborted);
    }
}
