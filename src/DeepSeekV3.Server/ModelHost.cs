using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
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

    public ModelHost(ServerOptions options)
    {
        Loading = Task.Run(() =>
        {
            Tokenizer = ByteLevelBpeTokenizer.Load(options.ModelDirectory);
            var defaults = GenerationFields.OpenAiDefaults;
            SamplingDefaults = GenerationConfig.Load(options.ModelDirectory)?.Over(defaults) ?? defaults;
            _model = ModelCheckpoint.Load(options.ModelDirectory);
            Parallel = options.Parallel?.Invoke(_model);
            _engine = new ServingEngine(_model, Tokenizer, options.Serving, Parallel?.Backend, Parallel?.Lockstep);
        });
    }

    /// <summary>Completes when the engine runs; faults if loading failed.</summary>
    public Task Loading { get; }

    public ByteLevelBpeTokenizer? Tokenizer { get; private set; }

    /// <summary>Sampling for fields a request leaves out: the model's generation_config.json, else OpenAI's defaults.</summary>
    public SamplingParams SamplingDefaults { get; private set; } = GenerationFields.OpenAiDefaults;

    /// <summary>The engine's parallel parts (null in one process or while loading).</summary>
    public ParallelServing? Parallel { get; private set; }

    /// <summary>Null while loading.</summary>
    public ServingEngine? Engine => _engine;

    /// <summary>The engine, or 503 while the model loads (or failed to).</summary>
    public ServingEngine Ready() => _engine ?? throw new ApiException(503,
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
        _model?.Dispose();
    }
}
