using DeepSeekV3.Configuration;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary>The fused decoder against the model's own (LibTorch) absorbed forward: same cache contents, same logits.</summary>
public class FusedDecoderTests
{
    public static TheoryData<string> Configs => ["v3-tiny", "v2-style", "group-limited-greedy", "no-shared-experts", "odd-shapes"];

    private static ModelConfig Config(string name) => name switch
    {
        "v3-tiny" => ModelPresets.Tiny,
        // No query compression, softmax affinities, plain greedy top-k, no correction bias (V2-Lite's layout);
        // a latent rank that is not a multiple of 16 exercises the kernels' tails.
        "v2-style" => ModelPresets.Tiny with { QLoraRank = null, KvLoraRank = 40, ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.Greedy, NGroup = 1, TopkGroup = 1, NormTopkProb = false, RoutedScalingFactor = 1.0 },
        "group-limited-greedy" => ModelPresets.Tiny with { ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.GroupLimitedGreedy },
        "no-shared-experts" => ModelPresets.Tiny with { NSharedExperts = 0, FirstKDenseReplace = 0 },
        // Every width off the kernels' 16 lanes (hidden 40, dense 72, expert 24, q rank 24, kv rank 40, RoPE 6), and
        // three heads, a partial group in the attention kernel's four-heads-at-a-time loop.
        "odd-shapes" => ModelPresets.Tiny with { HiddenSize = 40, IntermediateSize = 72, NumAttentionHeads = 3, NumKeyValueHeads = 3, QLoraRank = 24, KvLoraRank = 40, QkNopeHeadDim = 10, QkRopeHeadDim = 6, VHeadDim = 12, MoeIntermediateSize = 24 },
        _ => throw new ArgumentException(name),
    };

    private static DeepSeekV3ForCausalLM Model(ModelConfig config)
    {
        var model = TinyModels.Create(config, seed: 5, std: 0.08);
        using var _ = no_grad();
        using var generator = new Generator(9);
        // Non-zero correction biases, so choosing by biased scores and weighting by unbiased ones is exercised.
        foreach (var moe in model.modules().OfType<MixtureOfExperts>())
            if (moe.Gate.ExpertScoreCorrectionBias is not null)
                moe.Gate.SetCorrectionBias(randn([config.NRoutedExperts], generator: generator) * 0.05);
        return model;
    }

    private static double MaxDiff(Tensor a, Tensor b) =>
        (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();

    [Theory]
    [MemberData(nameof(Configs))]
    public void Decode_and_two_token_steps_equal_the_model_forward_for_a_batch_of_different_lengths(string name)
    {
        var config = Config(name);
        using var model = Model(config);
        using var _ = no_grad();
        using var fused = new FusedDecoder(model, threads: 1);
        using var referenceCache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU, blockSize: 4);
        using var fusedCache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU, blockSize: 4);
        int[] lengths = [5, 11, 2];
        var ids = lengths.Select(_ => (Reference: referenceCache.AddSequence(), Fused: fusedCache.AddSequence())).ToArray();
        var last = new long[lengths.Length];
        for (int b = 0; b < lengths.Length; b++)
        {
            // Prefill with LibTorch into both caches: the fused decoder continues what the model wrote.
            using var prompt = TinyModels.Tokens(1, lengths[b], config.VocabSize, seed: 20 + b);
            foreach (var (cache, id) in new[] { (referenceCache, ids[b].Reference), (fusedCache, ids[b].Fused) })
            {
                cache.SetBatch(id);
                using var output = model.Forward(prompt, new ForwardContext { Cache = cache });
                last[b] = output.Logits[0, -1].argmax().item<long>();
            }
        }
        referenceCache.SetBatch(ids.Select(i => i.Reference).ToArray());
        fusedCache.SetBatch(ids.Select(i => i.Fused).ToArray());
        var position = lengths.Select(l => (long)l).ToArray();
        double worst = 0;
        for (int step = 0; step < 8; step++)
        {
            using var scope = NewDisposeScope();
            int width = step % 3 == 2 ? 2 : 1;           // every third step feeds two tokens, as a verify pass does
            var tokens = tensor(last.SelectMany(t => Enumerable.Range(0, width).Select(j => (t + 31 * j) % config.VocabSize)).ToArray()).view(-1, width);
            using var expected = model.Forward(tokens, new ForwardContext { Cache = referenceCache });
            using var actual = fused.Forward(tokens, fusedCache);
            Assert.Equal(expected.Logits.shape, actual.Logits.shape);
            worst = Math.Max(worst, Math.Max(MaxDiff(expected.Logits, actual.Logits), MaxDiff(expected.Hidden, actual.Hidden)));
            last = expected.Logits.select(1, width - 1).argmax(-1).data<long>().ToArray();
            for (int b = 0; b < position.Length; b++) position[b] += width;
        }
        Assert.True(worst <= 1e-4, $"max abs difference {worst:E2}");
        for (int b = 0; b < lengths.Length; b++)
            Assert.Equal(referenceCache.Length(ids[b].Reference), fusedCache.Length(ids[b].Fused));
    }

    [Fact]
    public void Two_threads_give_bit_identical_logits()
    {
        var config = ModelPresets.Tiny;
        using var model = Model(config);
        using var _ = no_grad();
        float[] Run(int threads)
        {
            using var fused = new FusedDecoder(model, threads);
            using var cache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU);
            cache.SetBatch(cache.AddSequence(), cache.AddSequence());
            var logits = new List<float>();
            for (int step = 0; step < 4; step++)
            {
                using var tokens = TinyModels.Tokens(2, 3, config.VocabSize, seed: step);
                using var output = fused.Forward(tokens, cache);
                logits.AddRange(output.Logits.data<float>());
            }
            return logits.ToArray();
        }
        // Members split each matrix by output rows; every row's sum is computed the same way as on one thread.
        Assert.Equal(Run(1), Run(2));
    }

    [Fact]
    public void Last_only_forward_gives_the_last_positions_and_the_same_cache()
    {
        var config = ModelPresets.Tiny;
        using var model = Model(config);
        using var _ = no_grad();
        using var fused = new FusedDecoder(model, threads: 1);
        using var full = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU, blockSize: 4);
        using var last = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU, blockSize: 4);
        var fullIds = new[] { full.AddSequence(), full.AddSequence() };
        var lastIds = new[] { last.AddSequence(), last.AddSequence() };
        full.SetBatch(fullIds);
        last.SetBatch(lastIds);
        // Two 5-token chunks per sequence (a prompt's prefill), then a 1-token step that reads what they cached.
        double worst = 0;
        foreach (int seed in new[] { 1, 2 })
        {
            using var tokens = TinyModels.Tokens(2, 5, config.VocabSize, seed);
            using var expected = fused.Forward(tokens, full);
            using var actual = fused.Forward(tokens, last, lastOnly: true);
            Assert.Equal(new long[] { 2, 1, config.VocabSize }, actual.Logits.shape);
            worst = Math.Max(worst, MaxDiff(expected.Logits.narrow(1, 4, 1), actual.Logits));
            worst = Math.Max(worst, MaxDiff(expected.Hidden.narrow(1, 4, 1), actual.Hidden));
        }
        using var next = TinyModels.Tokens(2, 1, config.VocabSize, seed: 3);
        using var a = fused.Forward(next, full);
        using var b = fused.Forward(next, last);
        worst = Math.Max(worst, MaxDiff(a.Logits, b.Logits));
        Assert.True(worst <= 1e-5, $"max abs difference {worst:E2}");
    }

    [Theory]
    [InlineData(new[] { 1, 1, 1, 1 }, 2, new[] { 0, 1, 0, 1 })]
    [InlineData(new[] { 3, 1, 1, 1 }, 2, new[] { 0, 1, 1, 0 })]     // loads 4+3 | 4+1, then 5+4+1 | ... by hand
    [InlineData(new[] { 2, 5, 1 }, 3, new[] { 1, 0, 2 })]
    public void Experts_are_shared_out_largest_first_to_the_least_loaded_member(int[] rows, int members, int[] expected)
    {
        Assert.Equal(expected, FusedLayer.BalanceExperts(rows, members));
    }

    [Theory]
    [InlineData("v3-tiny")]
    [InlineData("odd-shapes")]
    public void Mtp_module_equals_the_model_forward_mtp(string name)
    {
        var config = Config(name);
        using var model = Model(config);
        using var _ = no_grad();
        using var fused = new FusedDecoder(model, threads: 1);
        int layers = config.NumHiddenLayers + 1;
        using var referenceCache = new PagedLatentCache(config, layers, ScalarType.Float32, CPU, blockSize: 4);
        using var fusedCache = new PagedLatentCache(config, layers, ScalarType.Float32, CPU, blockSize: 4);
        referenceCache.SetBatch(referenceCache.AddSequence());
        fusedCache.SetBatch(fusedCache.AddSequence());
        using var tokens = TinyModels.Tokens(1, 12, config.VocabSize, seed: 3);
        using var hidden = model.Forward(tokens).Hidden;                          // h^0 at every position
        // Pairs (h_i, t_{i+1}), i = 0..10: the first 8 through LibTorch into both caches, then i = 8-9 and 10 through
        // each path (the shapes of an accepted and a rejected draft).
        foreach (var cache in new[] { referenceCache, fusedCache })
            model.ForwardMtp(1, hidden.narrow(1, 0, 8), tokens.narrow(1, 1, 8), new ForwardContext { Cache = cache }).Dispose();
        double worst = 0;
        foreach (var (start, width) in new[] { (8, 2), (10, 1) })
        {
            var previous = hidden.narrow(1, start, width);
            var next = tokens.narrow(1, start + 1, width);
            using var expected = model.ForwardMtp(1, previous, next, new ForwardContext { Cache = referenceCache });
            using var actual = fused.ForwardMtp(1, previous, next, fusedCache);
            worst = Math.Max(worst, Math.Max(MaxDiff(expected.Logits, actual.Logits), MaxDiff(expected.Hidden, actual.Hidden)));
            // Only the last position, as a draft needs: the same logits and h^k (the cache entries are rewritten at
            // the same positions, so roll the MTP layer back first), and the same cache for the next pass.
            fusedCache.Truncate(fusedCache.Batch[0], start, config.NumHiddenLayers, 1);
            using var last = fused.ForwardMtp(1, previous, next, fusedCache, lastOnly: true);
            Assert.Equal(new long[] { 1, 1, config.VocabSize }, last.Logits.shape);
            Assert.Equal(new long[] { 1, 1, config.HiddenSize }, last.Hidden.shape);
            worst = Math.Max(worst, MaxDiff(expected.Logits.narrow(1, width - 1, 1), last.Logits));
            worst = Math.Max(worst, MaxDiff(expected.Hidden.narrow(1, width - 1, 1), last.Hidden));
        }
        Assert.True(worst <= 1e-4, $"max abs difference {worst:E2}");
    }

    [Fact]
    public void Bf16_weights_and_cache_stay_close_to_fp32_on_the_same_rounded_weights()
    {
        var config = ModelPresets.Tiny;
        using var reference = Model(config);
        using var model = Model(config);
        model.To(CPU, ScalarType.BFloat16);
        using (no_grad())
            foreach (var (name, p) in reference.named_parameters())   // the reference holds the bf16 values in fp32
                p.copy_(model.get_parameter(name)!.to(ScalarType.Float32));
        using var _ = no_grad();
        using var fused = new FusedDecoder(model, threads: 1);
        using var referenceCache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU);
        using var fusedCache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.BFloat16, CPU);
        referenceCache.SetBatch(referenceCache.AddSequence());
        fusedCache.SetBatch(fusedCache.AddSequence());
        using var tokens = TinyModels.Tokens(1, 10, config.VocabSize, seed: 4);
        reference.Forward(tokens.narrow(1, 0, 6), new ForwardContext { Cache = referenceCache }).Dispose();
        model.Forward(tokens.narrow(1, 0, 6), new ForwardContext { Cache = fusedCache }).Dispose();
        double worst = 0, spread = 0;
        for (int t = 6; t < 10; t++)
        {
            using var expected = reference.Forward(tokens.narrow(1, t, 1), new ForwardContext { Cache = referenceCache });
            using var actual = fused.Forward(tokens.narrow(1, t, 1), fusedCache);
            worst = Math.Max(worst, MaxDiff(expected.Logits, actual.Logits));
            spread = Math.Max(spread, expected.Logits.std().item<float>());
        }
        // Only the bf16 rounding of cached latents (and the LibTorch bf16 prefill) separate the two: a small
        // fraction of the logits' spread.
        Assert.True(worst <= 0.05 * spread, $"max abs difference {worst:E2}, logit std {spread:E2}");
    }

    [Fact]
    public void Profile_accounts_for_every_pass_and_splits_it_into_the_stages_the_model_has()
    {
        var config = ModelPresets.Tiny;                         // one dense layer, then MoE with a shared expert
        using var model = Model(config);
        using var _ = no_grad();
        using var fused = new FusedDecoder(model, threads: 1) { Profile = new DecodeProfile() };
        using var cache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU);
        cache.SetBatch(cache.AddSequence());
        for (int step = 0; step < 5; step++)
        {
            using var tokens = TinyModels.Tokens(1, 1, config.VocabSize, seed: step);
            fused.Forward(tokens, cache).Dispose();
        }
        var profile = fused.Profile;
        Assert.Equal(5, profile.Passes);
        var stages = Enum.GetValues<DecodeStage>();
        Assert.All(stages, stage => Assert.True(profile.Milliseconds(stage) >= 0, $"{stage} is negative"));
        Assert.Equal(profile.TotalMilliseconds, stages.Sum(profile.Milliseconds), 6);
        foreach (var present in new[] { DecodeStage.AttentionProjections, DecodeStage.AttentionCore, DecodeStage.Router,
                     DecodeStage.RoutedExperts, DecodeStage.SharedExperts, DecodeStage.DenseMlp, DecodeStage.LmHead })
            Assert.True(profile.Milliseconds(present) > 0, $"{present} got no time");
        profile.Reset();
        Assert.Equal(0, profile.Passes);
        Assert.Equal(0, profile.TotalMilliseconds);
    }

    [Fact]
    public void Bad_input_is_refused_with_an_explanation()
    {
        var config = ModelPresets.Tiny;
        using var model = Model(config);
        using var _ = no_grad();
        using var fused = new FusedDecoder(model, threads: 1);
        using var cache = new PagedLatentCache(config, config.NumHiddenLayers, ScalarType.Float32, CPU);
        cache.SetBatch(cache.AddSequence());
        var tooMany = Assert.Throws<ArgumentException>(() => fused.Forward(zeros([1, FusedDecoder.MaxRows + 1], ScalarType.Int64), cache));
        Assert.Contains("token rows", tooMany.Message);
        Assert.Throws<ArgumentException>(() => fused.Forward(zeros([2, 1], ScalarType.Int64), cache));   // batch of one
        var outside = Assert.Throws<InvalidArgumentException>(() => fused.Forward(tensor(new long[] { config.VocabSize }).view(1, 1), cache));
        Assert.Contains("vocabulary", outside.Message);
        model.To(CPU, ScalarType.BFloat16);
        var stale = Assert.Throws<InvalidOperationException>(() => fused.Forward(zeros([1, 1], ScalarType.Int64), cache));
        Assert.Contains("build a new one", stale.Message);
    }
}
