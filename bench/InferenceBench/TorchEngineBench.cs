using System.Diagnostics;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Bench;

/// <summary>The decode paths of our engine, fastest first.</summary>
internal enum OurEngine
{
    /// <summary>What GenerationEngine runs: LibTorch prefill into the paged cache, FusedDecoder decode steps.</summary>
    Fused,
    /// <summary>LibTorch forward for every step, with the small-batch kernel inside Projection.</summary>
    Torch,
    /// <summary>LibTorch forward for every step, LibTorch linear only.</summary>
    TorchLinearOnly,
}

/// <summary>
/// Our engine as a generator runs it: prefill of the prompt (absorbed MLA, LibTorch), logits only for the last
/// position, then one cached decode step per token, greedy, f32 on the CPU.
/// </summary>
internal static class TorchEngineBench
{
    public static Timings Run(string modelDir, long[] prompt, int decodeSteps, int repeats, int warmupSteps, OurEngine engine)
    {
        using var model = ModelCheckpoint.Load(modelDir, CPU, ScalarType.Float32);
        model.UseSmallBatchKernels(engine == OurEngine.Torch);
        using var fused = engine == OurEngine.Fused ? new FusedDecoder(model) : null;
        using var _ = no_grad();
        var prefill = new List<double>();
        var decode = new List<double>();
        for (int r = 0; r < repeats + 1; r++)   // repeat 0 warms up allocators and kernels; not recorded
        {
            using var cache = new PagedLatentCache(model.Config, model.Config.NumHiddenLayers, ScalarType.Float32, CPU);
            cache.SetBatch(cache.AddSequence());
            var watch = Stopwatch.StartNew();
            long next = Step(model, cache, prompt, 0);
            if (r > 0) prefill.Add(watch.Elapsed.TotalSeconds);
            for (int s = 0; s < decodeSteps; s++)
            {
                watch.Restart();
                next = fused is null ? Step(model, cache, [next], prompt.Length + s) : FusedStep(fused, cache, next);
                if (r > 0 && s >= warmupSteps) decode.Add(watch.Elapsed.TotalSeconds);
            }
        }
        string name = engine switch
        {
            OurEngine.Fused => "DeepSeekV3.NET",
            OurEngine.Torch => "DeepSeekV3.NET, LibTorch forward",
            _ => "DeepSeekV3.NET, LibTorch linear only",
        };
        return new Timings(name, prefill, decode);
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
        var context = new ForwardContext { Mode = AttentionMode.Absorbed, Cache = cache, StartPosition = start };
        var hidden = model.Model.Forward(tensor(tokens).unsqueeze(0), context);                   // [1, s, hidden]
        var logits = model.LmHead.forward(hidden[0, -1]);                                        // [vocab]
        return logits.argmax().item<long>();
    }
}
