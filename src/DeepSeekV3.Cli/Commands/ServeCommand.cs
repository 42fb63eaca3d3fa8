using System.CommandLine;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Server;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 serve`: the OpenAI-compatible HTTP server (DeepSeekV3.Server) until Ctrl+C or SIGTERM.</summary>
internal static class ServeCommand
{
    /// <summary>Where the API key comes from when --api-key is not given.</summary>
    public const string ApiKeyVariable = "DSV3_API_KEY";

    public static Command Create()
    {
        var model = CliOptions.Model(required: false);
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0: every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0: any free port)", DefaultValueFactory = _ => 8000 };
        var apiKey = new Option<string?>("--api-key") { Description = $"Require \"Authorization: Bearer KEY\" on /v1 (default: ${ApiKeyVariable})" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Sequences decoding together at most", DefaultValueFactory = _ => 16 };
        var maxContext = new Option<int?>("--max-context") { Description = "Prompt + completion tokens per request (default: the model's)" };
        var kvTokens = new Option<long?>("--kv-cache-tokens") { Description = "KV-cache tokens all running requests may reserve (default: max batch × context)" };
        var threads = new Option<int>("--threads") { Description = "Compute threads (0: LibTorch's default)", DefaultValueFactory = _ => 0 };
        var sampling = new SamplingOptions();
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API")
        {
            model, host, port, apiKey, maxBatch, maxContext, kvTokens, threads, sampling.Speculative,
        };
        command.SetAction(async (result, cancellation) =>
        {
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            var options = new ServerOptions
            {
                ModelDirectory = result.GetValue(model) ?? CliOptions.DefaultModelDirectory(),
                Host = result.GetValue(host)!,
                Port = result.GetValue(port),
                ApiKey = result.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable),
                Serving = new ServingOptions
                {
                    MaxBatch = result.GetValue(maxBatch),
                    MaxContext = result.GetValue(maxContext),
                    KvCacheTokens = result.GetValue(kvTokens),
                    Speculative = sampling.ReadSpeculative(result),
                },
            };
            var log = result.InvocationConfiguration.Error;
            await using var server = await OpenAiServer.StartAsync(options, cancellation);
            log.WriteLine($"dsv3 serve: listening at {server.Address} (model `{options.ServedModelName}` loading from {options.ModelDirectory})");
            if (options.ApiKey is null && options.Host is not ("127.0.0.1" or "localhost" or "::1"))
                log.WriteLine($"dsv3 serve: warning: listening beyond loopback without an API key (--api-key or ${ApiKeyVariable})");
            await server.ModelLoaded;
            log.WriteLine($"dsv3 serve: ready; context {server.Engine!.MaxContext} tokens, KV budget {server.Engine.KvCacheTokens} tokens, " +
                          $"batch {options.Serving.MaxBatch}");
            await server.WaitForShutdownAsync(cancellation);
            log.WriteLine("dsv3 serve: stopping");
            return 0;
        });
        return command;
    }
}
