using System.Diagnostics;
using System.Net;
using DeepSeekV3.Inference.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DeepSeekV3.Server;

/// <summary>
/// The OpenAI-compatible server on Kestrel: the chat page at /, /v1/models, /v1/chat/completions, /v1/completions (plain and streamed),
/// /health, /metrics, /tokenize, /detokenize. It listens at once and loads the model in the background (/health
/// answers 503 until it is ready). Every error is an OpenAI-style JSON body: 4xx for what the client sent, 503 while
/// loading or when the queue is full, 500 only for a fault of the server. Stopping lets requests in flight finish
/// (up to the host's shutdown timeout), then stops the generation loop.
/// </summary>
public sealed class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ModelHost _host;

    private OpenAiServer(WebApplication app, ModelHost host)
    {
        _app = app;
        _host = host;
    }

    /// <summary>Where the server listens (the real port when <see cref="ServerOptions.Port"/> is 0).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Completes when the model is loaded and the engine runs; faults if loading failed.</summary>
    public Task ModelLoaded => _host.Loading;

    /// <summary>The engine (null while the model loads).</summary>
    public ServingEngine? Engine => _host.Engine;

    public static async Task<OpenAiServer> StartAsync(ServerOptions options, CancellationToken cancellation = default)
    {
        var address = ParseHost(options.Host);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (options.LogRequests) builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);       // our own line per request instead
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.Listen(address, options.Port);
        });
        var app = builder.Build();
        var host = new ModelHost(options);
        var server = new OpenAiServer(app, host);
        server.Map(options, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("dsv3.serve"));
        try
        {
            await app.StartAsync(cancellation);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal));
        return server;
    }

    /// <summary>Runs until the host is told to stop (Ctrl+C, SIGTERM) or <paramref name="cancellation"/> fires.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellation = default) => _app.WaitForShutdownAsync(cancellation);

    private void Map(ServerOptions options, ILogger log)
    {
        string model = options.ServedModelName;
        var completions = new CompletionEndpoints(_host, model);
        var info = new InfoEndpoints(_host, completions, model);
        var key = options.ApiKey is { Length: > 0 } k ? new ApiKey(k) : null;
        _app.Use(async (context, next) =>
        {
            var clock = Stopwatch.StartNew();
            if (key is not null && NeedsKey(context.Request.Path) && !key.Accepts(context.Request.Headers.Authorization))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await WriteError(context, new ApiException(401, "Incorrect API key provided.", code: "invalid_api_key"));
            }
            else await next(context);
            if (options.LogRequests)
                log.LogInformation("{Method} {Path} {Status} {Milliseconds:F0} ms", context.Request.Method, context.Request.Path,
                    context.Response.StatusCode, clock.Elapsed.TotalMilliseconds);
        });
        if (options.Role == ServeRole.Prefill)
        {
            _app.MapGet("/health", Guard(info.Health, log));
            _app.MapGet("/metrics", Guard(info.Metrics, log));
            _app.MapPost("/v1/prefill", Guard(new PrefillEndpoints(_host).Prefill, log));
            _app.MapFallback(Guard(context => throw new ApiException(404, $"no endpoint {context.Request.Method} {context.Request.Path}: this " +
                "is a prefill server (--role prefill); send completions to its decode server", code: "not_found"), log));
            return;
        }
        _app.MapGet("/", Guard(new ChatPage(needsKey: key is not null, _host.SamplingDefaults).Serve, log));
        _app.MapGet("/health", Guard(info.Health, log));
        _app.MapGet("/metrics", Guard(info.Metrics, log));
        _app.MapGet("/v1/models", Guard(info.Models, log));
        _app.MapPost("/v1/chat/completions", Guard(completions.Chat, log));
        _app.MapPost("/v1/completions", Guard(completions.Completions, log));
        _app.MapPost("/tokenize", Guard(info.Tokenize, log));
        _app.MapPost("/detokenize", Guard(info.Detokenize, log));
        _app.MapFallback(Guard(context => throw new ApiException(404, $"no endpoint {context.Request.Method} {context.Request.Path}", code: "not_found"), log));
    }

    private static bool NeedsKey(PathString path) =>
        path.StartsWithSegments("/v1") || path.StartsWithSegments("/tokenize") || path.StartsWithSegments("/detokenize");

    /// <summary>Turns every failure into an OpenAI-style error: the request's own faults 4xx, a busy or loading
    /// server 503, a client that went away nothing at all, anything else 500 (logged).</summary>
    private static RequestDelegate Guard(Func<HttpContext, Task> handler, ILogger log) => async context =>
    {
        try
        {
            await handler(context);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: its requests were cancelled; there is no one to answer.
        }
        catch (ApiException e)
        {
            await WriteError(context, e);
        }
        catch (InvalidArgumentException e)
        {
            await WriteError(context, ApiException.BadRequest(e.Message));
        }
        catch (LatentCacheTransferException e)
        {
            // The prefill server's answer cannot be continued here: a fault between the two servers, not the client's.
            await WriteError(context, new ApiException(502, e.Message, "server_error", code: e.ModelMismatch ? "prefill_model_mismatch" : "prefill_malformed"));
        }
        catch (ServerBusyException e)
        {
            await WriteError(context, new ApiException(503, e.Message, "server_error", code: "server_busy"));
        }
        catch (Exception e)
        {
            log.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            await WriteError(context, new ApiException(500, $"internal error: {e.GetType().Name}: {e.Message}", "server_error"));
        }
    };

    /// <summary>The error as JSON; once a stream has started, as its last event.</summary>
    private static async Task WriteError(HttpContext context, ApiException error)
    {
        string json = OpenAiJson.Serialize(OpenAiJson.Error(error));
        if (context.Response.HasStarted)
        {
            await context.Response.WriteAsync($"data: {json}\n\ndata: [DONE]\n\n");
            return;
        }
        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    }

    private static IPAddress ParseHost(string host) => host switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "0.0.0.0" => IPAddress.Any,
        _ when IPAddress.TryParse(host, out var address) => address,
        _ => throw new InvalidArgumentException($"--host \"{host}\": expected an IP address, localhost or 0.0.0.0"),
    };

    /// <summary>Stops listening after requests in flight finish, then stops the engine and frees the model.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _host.Dispose();
    }
}
