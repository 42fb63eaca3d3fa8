using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Server;

/// <summary>
/// Loads the model and tokenizer in the background (the server answers /health with 503 meanwhile), then owns the
/// <see cref="ServingEngine"/> that runs them.
/// </summary>
internal sealed class ModelHost : IDisposable
{
    private DeepSeekV3ForCausalLM? _model;
    private volatile ServingEngine? _engine;
    private volatile PrefillWorkers? _workers;
    private readonly RemotePrefill? _remote;
    private IDecoderWeights? _weights;

    /// <summary>By role: colocated (prefill workers of its own when asked), prefill (workers, no engine), decode (an
    /// engine whose prefills come from the prefill server).</summary>
    public ModelHost(ServerOptions options)
    {
        Role = options.Role;
        if (options.Weights is { } mode && (Role != ServeRole.Colocated || options.PrefillWorkers > 0 || options.Parallel is not null))
            throw new InvalidArgumentException($"--weights {mode.ToString().ToLowerInvariant()} serves on the fused decoder without a LibTorch model; " +
                                               "prefill/decode separation (--role, --prefill-workers) and --ep need the LibTorch model: drop one or the other");
        if (Role != ServeRole.Decode && options.PrefillUrl is not null)
            throw new InvalidArgumentException($"--prefill URL is for --role decode; this server's role is {Role.ToString().ToLowerInvariant()}");
        if (Role == ServeRole.Decode)
            _remote = new RemotePrefill(options.PrefillUrl ?? throw new InvalidArgumentException("--role decode needs --prefill URL (the prefill server)"),
                options.ApiKey, () => _engine?.Identity ?? "");
        // Read before loading (a small file): the chat page shows these from the start.
        SamplingDefaults = DefaultSampling.Of(options.ModelDirectory);
        Loading = Task.Run(() =>
        {
            Tokenizer = ByteLevelBpeTokenizer.Load(options.ModelDirectory);
            if (options.Weights is { } weightsMode)
            {
                var config = ModelCheckpoint.LoadConfig(options.ModelDirectory);
                var weights = _weights = CheckpointWeights.Open(options.ModelDirectory, weightsMode);
                _engine = new ServingEngine(config, () => new FusedWeightsBackend(config, weights), Tokenizer, options.Serving);
                return;
            }
            _model = ModelCheckpoint.Load(options.ModelDirectory);
            if (Role == ServeRole.Prefill || options.PrefillWorkers > 0)
                _workers = new PrefillWorkers(_model, Math.Max(1, options.PrefillWorkers), options.MaxPrefillQueue,
                    options.Serving.BlockSize, options.Serving.Fused, options.Serving.Speculative);
            if (Role == ServeRole.Prefill) return;
            Parallel = options.Parallel?.Invoke(_model);
            _engine = new ServingEngine(_model, Tokenizer, options.Serving, Parallel?.Backend, Parallel?.Lockstep,
                prefill: (IPrefillSource?)_remote ?? _workers);
        });
    }

    public ServeRole Role { get; }

    /// <summary>This process's prefill workers (a prefill server's, or a colocated server's with --prefill-workers);
    /// null otherwise or while loading.</summary>
    public PrefillWorkers? Workers => _workers;

    /// <summary>Whether requests can run: the engine, or a prefill server's workers, is up.</summary>
    public bool IsReady => _engine is not null || (Role == ServeRole.Prefill && _workers is not null);

    /// <summary>The prefill workers, or 503 while the model loads.</summary>
    public PrefillWorkers ReadyWorkers() => _workers ?? throw NotReady();

    /// <summary>Completes when the engine runs; faults if loading failed.</summary>
    public Task Loading { get; }

    public ByteLevelBpeTokenizer? Tokenizer { get; private set; }

    /// <summary>Sampling for fields a request leaves out: the model's generation_config.json, else OpenAI's defaults.</summary>
    public SamplingParams SamplingDefaults { get; }

    /// <summary>The engine's parallel parts (null in one process or while loading).</summary>
    public ParallelServing? Parallel { get; private set; }

    /// <summary>Null while loading.</summary>
    public ServingEngine? Engine => _engine;

    /// <summary>The engine, or 503 while the model loads (or failed to).</summary>
    public ServingEngine Ready() => _engine ?? throw NotReady();

    private ApiException NotReady() => new(503,
        Loading.IsFaulted ? $"the model failed to load: {Loading.Exception!.GetBaseException().Message}" : "the model is still loading",
        "server_error", code: "model_not_ready");

    /// <summary>Stops the generation loop (requests still running end cancelled), then frees the model.</summary>
    public void Dispose()
    {
        try
        {
            Loading.Wait();
        }
        catch (AggregateException)
        {
            // A failed load has nothing to free beyond what loaded; /health reported the error.
        }
        _engine?.Dispose();
        _workers?.Dispose();
        _remote?.Dispose();
        _model?.Dispose();
        _weights?.Dispose();
    }
}
