using System.CommandLine;
using System.Text;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Distributed;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Parallel;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Server;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 serve`: the OpenAI-compatible HTTP server (DeepSeekV3.Server) until Ctrl+C or SIGTERM. Under
/// mpiexec with --ep N, rank 0 serves HTTP and every rank holds its share of the routed experts: the other ranks'
/// batches follow rank 0's decisions step by step (<see cref="BatchLockstep"/>).</summary>
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
        var prefillChunk = new Option<int>("--prefill-chunk")
        {
            Description = "Prompt tokens prefilled per step between decode steps (chunked prefill; 0: whole prompts)",
            DefaultValueFactory = _ => ServingOptions.DefaultPrefillChunk,
        };
        var noPrefixCache = new Option<bool>("--no-prefix-cache") { Description = "Do not share cached prompt-prefix blocks across requests" };
        var threads = CliOptions.Threads();
        var role = new Option<ServeRole>("--role")
        {
            Description = "colocated (default); prefill: only POST /v1/prefill for a decode server; decode: the OpenAI API, prompts prefilled by --prefill",
            DefaultValueFactory = _ => ServeRole.Colocated,
        };
        var prefillUrl = new Option<string?>("--prefill") { Description = "With --role decode: the prefill server's URL (http://127.0.0.1:8001)" };
        var prefillWorkers = new Option<int>("--prefill-workers")
        {
            Description = "Prefill threads apart from the decode loop, each with its own queue turn and cache (0: the decode loop prefills)",
            DefaultValueFactory = _ => 0,
        };
        var maxPrefillQueue = new Option<int>("--max-prefill-queue") { Description = "Prompts waiting for a prefill worker at most", DefaultValueFactory = _ => 1024 };
        var weights = CliOptions.Weights();
        var sampling = new SamplingOptions();
        var experts = new ExpertParallelOptions();
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API")
        {
            model, host, port, apiKey, maxBatch, maxContext, kvTokens, prefillChunk, noPrefixCache, threads, sampling.Speculative,
            role, prefillUrl, prefillWorkers, maxPrefillQueue, weights,
        };
        experts.AddTo(command);
        command.SetAction(async (result, cancellation) =>
        {
            CliOptions.ApplyThreads(result.GetValue(threads));
            using var world = Communicators.FromEnvironment();
            var parallel = experts.Read(result, world);
            var serving = new ServingOptions
            {
                MaxBatch = result.GetValue(maxBatch),
                MaxContext = result.GetValue(maxContext),
                KvCacheTokens = result.GetValue(kvTokens),
                PrefillChunk = result.GetValue(prefillChunk),
                PrefixCaching = !result.GetValue(noPrefixCache),
                Speculative = sampling.ReadSpeculative(result),
            };
            string modelDirectory = result.GetValue(model) ?? CliOptions.DefaultModelDirectory();
            if (parallel is not null && world.Rank != 0)
                return FailFast.Run(world, () => Follow(modelDirectory, world, parallel, serving), result.InvocationConfiguration.Error, verbose: false);
            var options = new ServerOptions
            {
                ModelDirectory = modelDirectory,
                Host = result.GetValue(host)!,
                Port = result.GetValue(port),
                ApiKey = result.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable),
                Serving = serving,
                Role = result.GetValue(role),
                PrefillUrl = ParseUrl(result.GetValue(prefillUrl)),
                PrefillWorkers = result.GetValue(prefillWorkers),
                MaxPrefillQueue = result.GetValue(maxPrefillQueue),
                Weights = CliOptions.ParseWeights(result.GetValue(weights), "cpu"),
                Parallel = parallel is null ? null : loaded => Lead(loaded, world, parallel, result.InvocationConfiguration.Error),
            };
            var log = result.InvocationConfiguration.Error;
            await using var server = await OpenAiServer.StartAsync(options, cancellation);
            log.WriteLine($"dsv3 serve: listening at {server.Address} (model `{options.ServedModelName}` loading from {options.ModelDirectory})");
            if (options.ApiKey is null && options.Host is not ("127.0.0.1" or "localhost" or "::1"))
                log.WriteLine($"dsv3 serve: warning: listening beyond loopback without an API key (--api-key or ${ApiKeyVariable})");
            await server.ModelLoaded;
            if (server.Engine is { } engine)
                log.WriteLine($"dsv3 serve: ready; context {engine.MaxContext} tokens, KV budget {engine.KvCacheTokens} tokens, " +
                              $"batch {options.Serving.MaxBatch}" + (options.Role == ServeRole.Decode ? $", prefills from {options.PrefillUrl}" : ""));
            else log.WriteLine("dsv3 serve: ready; prefill server (POST /v1/prefill)");
            await server.WaitForShutdownAsync(cancellation);
            log.WriteLine("dsv3 serve: stopping");
            return 0;
        });
        return command;
    }

    /// <summary>--prefill: an absolute http(s) URL.</summary>
    private static Uri? ParseUrl(string? text) =>
        text is null ? null
        : Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" ? url
        : throw new InvalidArgumentException($"--prefill \"{text}\": expected the prefill server's http URL, e.g. http://127.0.0.1:8001");

    /// <summary>Rank 0 of an expert-parallel server: its share of the experts, the lockstep the other ranks follow,
    /// and the expert balance in /metrics.</summary>
    private static ParallelServing Lead(Modeling.DeepSeekV3ForCausalLM model, ICommunicator world, ExpertParallelInferenceOptions options,
        TextWriter log)
    {
        var inference = new ExpertParallelInference(model, world, options);
        log.WriteLine("dsv3 serve: " + ExpertParallelOptions.Describe(inference, options, torchAsked: false));
        inference.Replanned += replan => log.WriteLine($"dsv3 serve: [eplb] {replan}");
        return new ParallelServing(() => inference.CreateBackend(), new BatchLockstep(world), name => BalanceMetrics(inference, name));
    }

    /// <summary>Every other rank: its share of the experts, and rank 0's batch decisions carried out until it stops.</summary>
    private static int Follow(string modelDirectory, ICommunicator world, ExpertParallelInferenceOptions options, ServingOptions serving)
    {
        using var model = ModelCheckpoint.Load(modelDirectory);
        var inference = new ExpertParallelInference(model, world, options);
        using var batch = new GenerationBatch(model, blockSize: serving.BlockSize, fused: false, speculative: serving.Speculative,
            backend: () => inference.CreateBackend());
        new BatchLockstep(world).Follow(batch);
        return 0;
    }

    /// <summary>dsv3:expert_balancedness (mean / max rank load) before and as planned by the last re-plan, and the
    /// re-plans so far (SGLang exposes its EPLB balancedness the same way).</summary>
    private static string BalanceMetrics(ExpertParallelInference inference, string modelName)
    {
        var text = new StringBuilder();
        void Sample(string name, string type, string help, double value, string labels = "") =>
            PrometheusText.Sample(text, modelName, name, type, help, value, labels);
        var metrics = inference.Metrics;
        Sample("dsv3:eplb_replans_total", "counter", "EPLB re-plans carried out.", metrics.Replans.Count);
        Sample("dsv3:eplb_experts_moved_total", "counter", "Experts moved between ranks by re-plans.", metrics.Replans.Sum(r => r.ExpertsMoved));
        if (metrics.LastReplan is { } last)
        {
            Sample("dsv3:expert_balancedness", "gauge", "Mean / max rank load of the routed experts (1 = even).",
                last.Before.Balancedness, ",when=\"before_last_replan\"");
            Sample("dsv3:expert_balancedness_planned", "gauge", "Mean / max rank load the last re-plan planned on the same loads.",
                last.After.Balancedness);
        }
        return text.ToString();
    }
}
