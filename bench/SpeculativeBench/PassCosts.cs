using System.Diagnostics;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Inference;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Bench;

/// <summary>Median milliseconds of each kind of pass a speculative step makes, on the fused decoder, and the mean
/// stage times of the main model's 1-row (plain step) and 2-row (verify) passes.</summary>
internal sealed record PassCosts(double Main1, double Main2, double Mtp1, double Mtp2, double Head,
    Dictionary<string, (double OneRow, double TwoRows)> MainStages)
{
    public static unsafe PassCosts Measure(DeepSeekV3ForCausalLM model, int promptLength, int repeats = 200)
    {
        var config = model.Config;
        using var _ = no_grad();
        using var fused = new FusedDecoder(model);
        using var cache = new PagedLatentCache(config, config.NumHiddenLayers + 1, model.LmHead.Weight.dtype, CPU);
        int id = cache.AddSequence();
        cache.SetBatch(id);
        using var generator = new Generator(3);
        using var prompt = randint(0, config.VocabSize, [1, promptLength], dtype: ScalarType.Int64, generator: generator);
        using var prefill = model.Forward(prompt, new ForwardContext { Cache = cache });
        model.ForwardMtp(1, prefill.Hidden, prompt, new ForwardContext { Cache = cache }).Dispose();
        using var one = tensor(new long[] { 7 }).view(1, 1);
        using var two = tensor(new long[] { 7, 8 }).view(1, 2);
        using var hidden1 = prefill.Hidden.narrow(1, 0, 1).to(ScalarType.Float32);
        using var hidden2 = prefill.Hidden.narrow(1, 0, 2).to(ScalarType.Float32);

        // Each pass appends to the cache; truncating after it keeps every timed pass at the same position.
        double Time(Func<ModelOutput> pass, int layer)
        {
            var times = new double[repeats];
            for (int i = -20; i < repeats; i++)
            {
                var watch = Stopwatch.StartNew();
                pass().Dispose();
                if (i >= 0) times[i] = watch.Elapsed.TotalMilliseconds;
                cache.Truncate(id, promptLength, layer, 1 + (layer == 0 ? config.NumHiddenLayers - 1 : 0));
            }
            Array.Sort(times);
            return times[repeats / 2];
        }
        // The main passes are profiled by stage: where a verify's extra cost over a plain step comes from.
        var profile1 = new DecodeProfile();
        var profile2 = new DecodeProfile();
        fused.Profile = profile1;
        double main1 = Time(() => fused.Forward(one, cache), 0);
        fused.Profile = profile2;
        double main2 = Time(() => fused.Forward(two, cache), 0);
        fused.Profile = null;
        var stages = Enum.GetValues<DecodeStage>().ToDictionary(stage => stage.ToString(),
            stage => (OneRow: profile1.Milliseconds(stage) / profile1.Passes, TwoRows: profile2.Milliseconds(stage) / profile2.Passes));
        double mtp1 = Time(() => fused.ForwardMtp(1, hidden1, one, cache, lastOnly: true), config.NumHiddenLayers);
        double mtp2 = Time(() => fused.ForwardMtp(1, hidden2, two, cache, lastOnly: true), config.NumHiddenLayers);

        var head = new WeightMatrix(model.LmHead.Weight, "lm_head.weight");
        var x = new float[config.HiddenSize];
        var y = new float[config.VocabSize];
        var headTimes = new double[repeats];
        fixed (float* xs = x, ys = y)
            for (int i = -20; i < repeats; i++)
            {
                var watch = Stopwatch.StartNew();
                head.Multiply(xs, 1, ys, null);
                if (i >= 0) headTimes[i] = watch.Elapsed.TotalMilliseconds;
            }
        Array.Sort(headTimes);
        return new PassCosts(main1, main2, mtp1, mtp2, headTimes[repeats / 2], stages);
    }
}
