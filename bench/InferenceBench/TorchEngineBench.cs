using System.Diagnostics;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Bench;

/// <summary>The decode paths of our engine, fastest first.</summary>
internal enum OurEngine
{
    /// <summary>What GenerationEngine runs: LibTorch prefill into the paged cache, FusedDecoder decode steps.</summary>
    Fused,
    /// <summary>LibTorch forward for every step.</summary>
    Torch,
}

/// <summary>
/// Our engine as a generator runs it: prefill of the prompt (absorbed MLA, LibTorch), logits only for the last
/// position, then one cached decode step per token, greedy, f32 on the CPU.
/// </summary>
internal sealed class TorchEngineBench : IBenchEngine
{
    private readonly DeepSeekV3ForCausalLM _model;
    private readonly FusedDecoder? _fused;
    private readonly long[] _prompt;
    private readonly int _decodeSteps, _warmupSteps;
    private readonly List<double> _prefill = [], _decode = [];

    public TorchEngineBench(string modelDir, long[] prompt, int decodeSteps, int warmupSteps, OurEngine engine)
    {
        _model = ModelCheckpoint.Load(modelDir, CPU, ScalarType.Float32);
        _fused = engine == OurEngine.Fused ? new FusedDecoder(_model) : null;
        Profile = _fused is null ? null : new DecodeProfile();
        _prompt = prompt;
        _decodeSteps = decodeSteps;
        _warmupSteps = warmupSteps;
        Name = engine == OurEngine.Fused ? "DeepSeekV3.NET" : "DeepSeekV3.NET, LibTorch forward";
    }

    public string Name { get; }

    public Timings Timings => new(Name, _prefill, _decode);

    /// <summary>Where the recorded fused decode steps spent their time (null for the LibTorch engines).</summary>
    public DecodeProfile? Profile { get; }

    public void Repeat(bool record)
    {
        using var _ = no_grad();
        using var cache = new PagedLatentCache(_model.Config, _model.Config.NumHiddenLayers, ScalarType.Float32, CPU);
        cache.SetBatch(cache.AddSequence());
        var watch = Stopwatch.StartNew();
        long next = Step(_model, cache, _prompt, 0);
        if (record) _prefill.Add(watch.Elapsed.TotalSeconds);
        if (_fused is not null) _fused.Profile = record ? Profile : null;
        for (int s = 0; s < _decodeSteps; s++)
        {
            watch.Restart();
            next = _fused is null ? Step(_model, cache, [next], _prompt.Length + s) : FusedStep(_fused, cache, next);
            if (record && s >= _warmupSteps) _decode.Add(watch.Elapsed.TotalSeconds);
        }
    }

    public void Dispose()
    {
        _fused?.Dispose();
        _model.Dispose();
    }

    /// <summary>Batched decode: <paramref name="batch"/> copies of the prompt in one GenerationEngine run, greedy,
    /// fixed length; returns generated tokens per second over the decode phase (prefill timed separately).</summary>
    public static (double TokensPerSecond, double PrefillSeconds) RunBatched(string modelDir, long[] prompt, int batch, int newTokens)
    {
        using var model = ModelCheckpoint.Load(modelDir, CPU, ScalarType.Float32);
        var engine = new DeepSeekV3.Inference.GenerationEngine(model);
        var sampling = new DeepSeekV3.Inference.SamplingParams { MaxTokens = newTokens, IgnoreEos = true };
        var requests = Enumerable.Range(0, batch).Select(i => new DeepSeekV3.Inference.GenerationRequest(
            prompt.Take(prompt.Length - i).ToArray(), sampling)).ToList();     // slightly different lengths
        var firstTokenAt = new double[batch];
        var watch = Stopwatch.StartNew();
        engine.Generate(requests, (i, _) => { if (firstTokenAt[i] == 0) firstTokenAt[i] = watch.Elapsed.TotalSeconds; return true; });
        double total = watch.Elapsed.TotalSeconds, prefill = firstTokenAt.Max();
        return (batch * (newTokens - 1) / (total - prefill), prefill);
    }

    private static long FusedStep(FusedDecoder fused, PagedLatentCache cache, long token)
    {
        using var scope = NewDisposeScope();
        using var output = fused.Forward(tensor(new[] { token }).view(1, 1), cache);
        return output.Logits[0, 0].argmax().item<long>();
    }

    private static long Step(DeepSeekV3ForCausalLM model, PagedLatentCache cache, long[] tokens, long start)
    {
        using var scope = NewDisposeScope();
        var context = new ForwardContext { Mode = AttentionMode.Absorbed, Cache = cache };
        var hidden = model.Model.Forward(tensor(tokens).unsqueeze(0), context);                   // [1, s, hidden]
        var logits = model.LmHead.forward(hidden[0, -1]);                                        // [vocab]
        return logits.argmax().item<long>();
    }
}
