using DeepSeekV3.Configuration;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Modeling;

namespace DeepSeekV3.Inference;

/// <summary>
/// Generation for a list of requests, or for one request in a conversation's <see cref="PromptCache"/>: a
/// <see cref="GenerationBatch"/> run until every request stops. Each prompt is prefilled on its own, then every
/// unfinished sequence advances one token boundary per step in one batched pass (plain decoding) or by verifying its
/// MTP draft (speculative decoding), each at its own position.
/// </summary>
public sealed class GenerationEngine
{
    private readonly DeepSeekV3ForCausalLM? _model;
    private readonly AttentionMode _mode;
    private readonly int _blockSize;
    private readonly bool _fused, _speculative;
    private readonly Func<ForwardBackend>? _backend;

    /// <param name="fused">Run passes on the <see cref="FusedDecoder"/> where it applies (false: LibTorch only, the
    /// reference path the benchmarks and tests compare against).</param>
    /// <param name="speculative">MTP speculative decoding (<see cref="MtpSpeculativeDecoding"/>).</param>
    /// <param name="backend">Makes each batch's backend instead of <see cref="ForwardBackend.Create"/> (see
    /// <see cref="GenerationBatch"/>).</param>
    public GenerationEngine(DeepSeekV3ForCausalLM model, AttentionMode mode = AttentionMode.Absorbed, int blockSize = 64,
        bool fused = true, bool speculative = false, Func<ForwardBackend>? backend = null)
    {
        if (speculative) MtpSpeculativeDecoding.RequireDrafter(model.Config);         // fail here, not at the first request
        _model = model;
        _mode = mode;
        _blockSize = blockSize;
        _fused = fused;
        _speculative = speculative;
        _backend = backend;
        Config = model.Config;
    }

    /// <summary>Generation on backends without a LibTorch model (<see cref="FusedWeightsBackend"/>), made by
    /// <paramref name="backend"/> for each batch.</summary>
    public GenerationEngine(ModelConfig config, Func<ForwardBackend> backend, int blockSize = 64, bool speculative = false)
    {
        if (speculative) MtpSpeculativeDecoding.RequireDrafter(config);
        _mode = AttentionMode.Absorbed;
        _blockSize = blockSize;
        _fused = true;
        _speculative = speculative;
        _backend = backend;
        Config = config;
    }

    public ModelConfig Config { get; }

    /// <summary>
    /// Generates for every request. <paramref name="onToken"/> sees (request index, token) as they come and returns
    /// false to stop that request (a stop string matched): it then finishes with <see cref="FinishReason.Stop"/>.
    /// </summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<GenerationRequest> requests, Func<int, long, bool>? onToken = null)
    {
        using var batch = NewBatch();
        foreach (var request in requests) batch.Validate(request);
        var sequences = requests
            .Select((request, i) => batch.Add(request, onToken is null ? null : token => onToken(i, token)))
            .ToList();
        while (batch.Step()) { }
        return sequences.Select(s => s.Result()).ToList();
    }

    /// <summary>
    /// Generates for one request in <paramref name="session"/>'s cache (see <see cref="GenerationBatch.Add"/>);
    /// <paramref name="onToken"/> returns false to stop (a stop string matched). Plain decoding only: speculative
    /// decoding keeps its own cache.
    /// </summary>
    public GenerationResult Generate(GenerationRequest request, PromptCache session, Func<long, bool>? onToken = null)
    {
        using var batch = NewBatch();
        var sequence = batch.Add(request, onToken, session);
        while (batch.Step()) { }
        return sequence.Result();
    }

    private GenerationBatch NewBatch() => new(_model, _mode, _blockSize, _fused, _speculative, _backend);
}
