using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>The report's low-precision storage (§3.3.3): o_proj's input cached in E5M6, the MoE SwiGLU's inputs cached in
/// FP8 and the SwiGLU recomputed in backward, the MoE dispatch quantized once; gradients against float32 and the bytes kept.</summary>
public class Fp8ActivationCacheTests
{
    /// <summary>‖a − b‖ / ‖b‖.</summary>
    private static double Relative(Tensor a, Tensor b) => ((a - b).norm() / b.norm()).item<float>();

    private static long Bytes(IEnumerable<Tensor> tensors) => tensors.Sum(t => t.NumberOfElements * t.ElementSize);

    private static void Randomize(nn.Module module, ulong seed, double std = 0.05)
    {
        using var generator = new Generator(seed);
        using (no_grad())
            foreach (var p in module.parameters())
                p.copy_(randn(p.shape, generator: generator) * std);
    }

    [Fact]
    public void E5M6_cache_of_the_o_proj_input_gives_a_weight_gradient_close_to_float32_at_half_the_bytes_of_float32()
    {
        using var scope = NewDisposeScope();
        // T = 140 tokens (a partial Wgrad group), in = 300 (partial 128-tiles), out = 200.
        var projection = new Projection(300, 200);
        Randomize(projection, 1);
        var x = randn(140, 300, generator: new Generator(2));
        var upstream = randn(140, 200, generator: new Generator(3));
        Tensor WeightGradient(ILinearGemms? gemms)
        {
            projection.Gemms = gemms;
            projection.zero_grad();
            (projection.forward(x.detach().requires_grad_(true)) * upstream).sum().backward();
            return projection.Weight.grad!.detach().clone();
        }
        var exact = WeightGradient(null);
        double Error(bool powerOfTwo, ActivationCacheFormat cache) =>
            Relative(WeightGradient(new Fp8LinearGemms(Fp8Recipe.Report, powerOfTwoInput: powerOfTwo, inputCache: cache)), exact);
        // Wgrad re-quantizes x along tokens (128×1) in E4M3 either way. With float32 scales an E4M3 cache makes that a
        // second lossy quantization, an E5M6 one (2^-7 relative) nearly none; with power-of-2 scales (the report's for
        // o_proj) E4M3 codes re-scale exactly, so the two caches come out alike. E4M3's 3 bits give a few percent.
        double e4m3Float32Scales = Error(false, ActivationCacheFormat.E4M3), e5m6Float32Scales = Error(false, ActivationCacheFormat.E5M6);
        double e4m3PowerOfTwo = Error(true, ActivationCacheFormat.E4M3), e5m6PowerOfTwo = Error(true, ActivationCacheFormat.E5M6);
        Assert.True(e5m6Float32Scales < 0.05 && e5m6PowerOfTwo < 0.05, $"E5M6 {e5m6Float32Scales}, {e5m6PowerOfTwo}");
        Assert.True(e5m6Float32Scales < 0.9 * e4m3Float32Scales, $"float32 scales: E5M6 {e5m6Float32Scales} vs E4M3 {e4m3Float32Scales}");
        Assert.True(Math.Abs(e5m6PowerOfTwo - e4m3PowerOfTwo) < 0.1 * e4m3PowerOfTwo, $"UE8M0: E5M6 {e5m6PowerOfTwo} vs E4M3 {e4m3PowerOfTwo}");

        // Bytes kept for x (saved[2..]; saved[0..1] are W's blocks): E5M6 in float16, 2·T·in; E4M3, T·in + 4·T·⌈in/128⌉.
        var e4m3 = new Fp8LinearGemms(Fp8Recipe.Report, powerOfTwoInput: true);
        var e5m6 = new Fp8LinearGemms(Fp8Recipe.Report, powerOfTwoInput: true, inputCache: ActivationCacheFormat.E5M6);
        using var y5 = e5m6.Forward(x, projection.Weight, out var saved5);
        using var y4 = e4m3.Forward(x, projection.Weight, out var saved4);
        Assert.Equal(2L * 140 * 300, Bytes(saved5.Skip(2)));
        Assert.Equal(140L * 300 + 4 * 140 * 3, Bytes(saved4.Skip(2)));
        Assert.Equal(x.NumberOfElements * 4 / 2, Bytes(saved5.Skip(2)));                   // half a float32 cache
    }

    [Fact]
    public void Fp8_cached_SwiGLU_recomputed_in_backward_gives_gradients_close_to_float32_and_keeps_a_sixth_of_the_bytes()
    {
        using var scope = NewDisposeScope();
        var a = randn(70, 300, generator: new Generator(4)) * 2;
        var b = randn(70, 300, generator: new Generator(5));
        var upstream = randn(70, 300, generator: new Generator(6));
        (Tensor, Tensor) Gradients(bool cached)
        {
            var (ga, gb) = (a.detach().requires_grad_(true), b.detach().requires_grad_(true));
            var h = cached ? Fp8CachedSwiGlu.apply(ga, gb, Fp8Scaling.Float32Scales) : nn.functional.silu(ga) * gb;
            Assert.Equal((nn.functional.silu(a) * b).data<float>().ToArray(), h.detach().data<float>().ToArray());   // forward exact
            (h * upstream).sum().backward();
            return (ga.grad!.detach().clone(), gb.grad!.detach().clone());
        }
        var (da, db) = Gradients(cached: false);
        var (da8, db8) = Gradients(cached: true);
        // a and b each lose E4M3's 2^-4 relative precision at most (~2.5% rms); the SwiGLU's derivative is smooth.
        Assert.True(Relative(da8, da) < 0.05, $"da {Relative(da8, da)}");
        Assert.True(Relative(db8, db) < 0.05, $"db {Relative(db8, db)}");

        // LibTorch's autograd keeps a, silu(a) and b in float32: 12 bytes per element; the cache 2 + scales.
        long cached = Bytes(Fp8CachedSwiGlu.Cache(a, b, Fp8Scaling.Float32Scales));
        Assert.Equal(2L * 70 * 300 + 2 * 4 * 70 * 3, cached);
        Assert.True(cached * 5 < 3L * 4 * a.NumberOfElements, $"{cached} bytes");
    }

    [Fact]
    public void Expert_with_the_fp8_SwiGLU_cache_trains_like_float32()
    {
        using var scope = NewDisposeScope();
        var expert = new SwiGluMlp(200, 300);
        Randomize(expert, 7);
        var x = randn(130, 200, generator: new Generator(8));
        var upstream = randn(130, 200, generator: new Generator(9));
        List<Tensor> Gradients()
        {
            expert.zero_grad();
            var input = x.detach().requires_grad_(true);
            (expert.forward(input) * upstream).sum().backward();
            return [input.grad!.detach().clone(), .. expert.parameters().Select(p => p.grad!.detach().clone())];
        }
        var exact = Gradients();
        var fp8 = new Fp8LinearGemms(Fp8Recipe.Report);
        foreach (var p in new[] { expert.GateProj, expert.UpProj, expert.DownProj }) p.Gemms = fp8;
        expert.SwiGluCache = Fp8Scaling.Float32Scales;
        var cached = Gradients();
        for (int i = 0; i < exact.Count; i++)
            Assert.True(Relative(cached[i], exact[i]) < 0.08, $"gradient {i}: {Relative(cached[i], exact[i])}");
    }

    [Fact]
    public void Fp8_dispatch_quantized_once_equals_each_projection_quantizing_its_own_input_and_the_combine_reads_bfloat16()
    {
        using var scope = NewDisposeScope();
        var config = ModelPresets.Tiny with { HiddenSize = 200, MoeIntermediateSize = 160 };
        var moe = new MixtureOfExperts(config, 1);
        Randomize(moe, 10);
        var experts = new Fp8LinearGemms(Fp8Recipe.Report, powerOfTwoInput: true);
        var down = new Fp8LinearGemms(Fp8Recipe.Report, powerOfTwoGradient: true);
        foreach (int e in moe.HeldExperts)
            (moe.Expert(e).GateProj.Gemms, moe.Expert(e).UpProj.Gemms, moe.Expert(e).DownProj.Gemms) = (experts, experts, down);
        var x = randn(2, 45, 200, generator: new Generator(11));
        var upstream = randn(2, 45, 200, generator: new Generator(12));
        List<Tensor> Run()
        {
            moe.zero_grad();
            var input = x.detach().requires_grad_(true);
            var y = moe.Forward(input, new ForwardContext());
            (y * upstream).sum().backward();
            return [y.detach(), input.grad!.detach().clone(), .. moe.HeldExperts.SelectMany(e => moe.Expert(e).parameters())
                .Where(p => p.grad is not null).Select(p => p.grad!.detach().clone())];
        }
        var own = Run();
        moe.DispatchScaling = experts.InputScaling;
        var dispatched = Run();
        // 1×128 tiles are per token, so quantizing all dispatched tokens at once gives each expert the same codes.
        Assert.Equal(own.Count, dispatched.Count);
        for (int i = 0; i < own.Count; i++)
            Assert.True(own[i].equal(dispatched[i]).all().item<bool>(), $"tensor {i}");

        // What the combine receives, an expert's output, is bfloat16-valued (FP8 Fprop rounds to bfloat16).
        var expertOut = moe.Expert(0).forward(x.reshape(-1, 200));
        Assert.True(expertOut.equal(expertOut.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32)).all().item<bool>());
    }

    [Fact]
    public void Fp8_training_plan_caches_o_proj_in_E5M6_dispatches_in_fp8_and_keeps_bfloat16_optimizer_moments()
    {
        using var model = TinyModels.Create();
        model.SetPrecision(TrainingPrecision.Fp8);
        var moe = model.Model.Layers[1].Moe!;
        Assert.NotNull(moe.DispatchScaling);
        Assert.True(moe.DispatchScaling!.PowerOfTwo);                                     // the routed experts' input tiles
        Assert.All(moe.HeldExperts, e => Assert.NotNull(moe.Expert(e).SwiGluCache));
        Assert.NotNull(moe.SharedExperts!.SwiGluCache);
        Assert.Null(model.Model.Layers[0].DenseMlp!.SwiGluCache);
        model.SetPrecision(TrainingPrecision.Float32);
        Assert.Null(moe.DispatchScaling);
        Assert.All(moe.HeldExperts, e => Assert.Null(moe.Expert(e).SwiGluCache));

        Assert.Equal(ScalarType.BFloat16, TrainingPrecision.Fp8.MomentDtype());
        Assert.Equal(ScalarType.BFloat16, TrainingPrecision.BFloat16.MomentDtype());
        Assert.Equal(ScalarType.Float32, TrainingPrecision.Float32.MomentDtype());
        // `dsv3 train --precision fp8` without --moments: AdamW's moments bfloat16, master weights and gradients float32.
        var weight = moe.Expert(0).GateProj.Weight;
        weight.grad = ones_like(weight);
        using var adam = new DeepSeekV3.Training.Optimization.AdamW([("w", weight)],
            new DeepSeekV3.Training.Optimization.AdamWOptions { MomentDtype = TrainingPrecision.Fp8.MomentDtype() });
        adam.Step(1e-3);
        Assert.Equal(2, adam.StateTensors().Count);
        Assert.All(adam.StateTensors(), s => Assert.Equal(ScalarType.BFloat16, s.Tensor.dtype));
        Assert.Equal(ScalarType.Float32, weight.dtype);
        Assert.Equal(ScalarType.Float32, weight.grad!.dtype);
    }
}
