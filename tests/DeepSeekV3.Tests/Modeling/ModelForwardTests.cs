using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

public class ModelForwardTests
{
    [Fact]
    public void Naive_and_absorbed_attention_give_the_same_logits()
    {
        using var model = TinyModels.Create();
        using var tokens = TinyModels.Tokens(2, 12, ModelPresets.Tiny.VocabSize);
        using var naive = model.Forward(tokens, new ForwardContext { Mode = AttentionMode.Naive });
        using var absorbed = model.Forward(tokens, new ForwardContext { Mode = AttentionMode.Absorbed });
        Assert.True(allclose(naive.Logits, absorbed.Logits, rtol: 1e-4, atol: 1e-5),
            $"max diff {(naive.Logits - absorbed.Logits).abs().max().item<float>()}");
    }

    [Fact]
    public void Last_only_forward_gives_the_last_positions_logits_and_every_hidden_state()
    {
        using var model = TinyModels.Create();
        using var tokens = TinyModels.Tokens(2, 7, ModelPresets.Tiny.VocabSize);
        using var full = model.Forward(tokens);
        using var last = model.Forward(tokens, lastOnly: true);
        Assert.Equal(new long[] { 2, 1, ModelPresets.Tiny.VocabSize }, last.Logits.shape);
        Assert.True(allclose(full.Logits.narrow(1, 6, 1), last.Logits, 1e-5, 1e-6));
        Assert.True(full.Hidden.equal(last.Hidden).all().item<bool>());
    }

    [Theory]
    [InlineData(AttentionMode.Absorbed)]
    [InlineData(AttentionMode.Naive)]
    public void Cached_step_by_step_decoding_equals_one_full_forward(AttentionMode mode)
    {
        var config = ModelPresets.Tiny;
        using var model = TinyModels.Create();
        using var tokens = TinyModels.Tokens(2, 10, config.VocabSize);
        using var full = model.Forward(tokens, new ForwardContext { Mode = mode });

        using var cache = new ContiguousLatentCache(config.NumHiddenLayers);
        // Prefill 6 tokens, then one token at a time.
        using var prefill = model.Forward(tokens.narrow(1, 0, 6), new ForwardContext { Mode = mode, Cache = cache });
        Assert.True(allclose(full.Logits.narrow(1, 0, 6), prefill.Logits, 1e-4, 1e-5));
        for (int t = 6; t < 10; t++)
        {
            using var step = model.Forward(tokens.narrow(1, t, 1), new ForwardContext { Mode = mode, Cache = cache });
            Assert.True(allclose(full.Logits.narrow(1, t, 1), step.Logits, 1e-4, 1e-5), $"position {t}");
        }
        Assert.Equal(10, cache.Length(0));
        // The cache holds exactly kv_lora_rank + qk_rope_head_dim fp32 values per token, layer and sequence.
        Assert.Equal(new ModelSize(config).LatentCacheBytesPerToken(4) * 10 * 2, cache.Bytes);
    }

    [Fact]
    public void Logits_of_a_prefix_do_not_depend_on_later_tokens()
    {
        using var model = TinyModels.Create();
        using var a = TinyModels.Tokens(1, 9, 512, seed: 1);
        using var b = a.clone();
        b[0, 8] = (a[0, 8].item<long>() + 1) % 512;
        using var la = model.Forward(a);
        using var lb = model.Forward(b);
        // Equal up to float rounding: another token changes how experts batch their rows, not the math.
        Assert.True(allclose(la.Logits.narrow(1, 0, 8), lb.Logits.narrow(1, 0, 8), 1e-5, 1e-6),
            $"max diff {(la.Logits.narrow(1, 0, 8) - lb.Logits.narrow(1, 0, 8)).abs().max().item<float>()}");
        Assert.False(allclose(la.Logits.narrow(1, 8, 1), lb.Logits.narrow(1, 8, 1)));
    }

    [Fact]
    public void Batched_forward_equals_each_sequence_alone()
    {
        using var model = TinyModels.Create();
        using var tokens = TinyModels.Tokens(3, 7, 512);
        using var batched = model.Forward(tokens);
        for (int i = 0; i < 3; i++)
        {
            using var single = model.Forward(tokens.narrow(0, i, 1));
            Assert.True(allclose(batched.Logits.narrow(0, i, 1), single.Logits, 1e-5, 1e-6));
        }
    }

    [Fact]
    public void Moe_layer_equals_a_per_token_reference_loop()
    {
        var config = ModelPresets.Tiny;
        using var model = TinyModels.Create();
        var moe = model.Model.Layers[1].Moe!;
        using var x = randn([2, 5, config.HiddenSize], generator: new Generator(5));
        using var fast = moe.Forward(x, new ForwardContext());

        // Reference: for each token, Σ_k w_k · expert_{i_k}(x) + shared(x), token by token.
        using var flat = x.reshape(-1, config.HiddenSize);
        using var route = moe.Gate.Route(flat);
        var rows = new List<Tensor>();
        for (int t = 0; t < flat.shape[0]; t++)
        {
            var xt = flat.narrow(0, t, 1);
            var y = moe.SharedExperts!.forward(xt);
            for (int k = 0; k < config.NumExpertsPerTok; k++)
            {
                int e = (int)route.Indices[t, k].item<long>();
                y = y + moe.Expert(e).forward(xt) * route.Weights[t, k].item<float>();
            }
            rows.Add(y);
        }
        using var reference = cat(rows, 0).reshape(2, 5, config.HiddenSize);
        Assert.True(allclose(reference, fast, 1e-5, 1e-6));
    }

    [Fact]
    public void Mtp_module_concatenates_embedding_first_then_hidden()
    {
        var config = ModelPresets.Tiny;
        using var model = TinyModels.Create();
        using var tokens = TinyModels.Tokens(1, 8, config.VocabSize);
        using var main = model.Forward(tokens);
        var previous = main.Hidden.narrow(1, 0, 7);
        var next = tokens.narrow(1, 1, 7);
        using var mtp = model.ForwardMtp(1, previous, next);
        Assert.Equal(new long[] { 1, 7, config.VocabSize }, mtp.Logits.shape);

        // By hand: eh_proj([enorm(Emb(t_{i+1})) ; hnorm(h_i)]) → block → shared_head.norm → lm_head.
        var layer = model.Model.MtpLayers.Single();
        using var e = model.Model.EmbedTokens.forward(next);
        using var combined = layer.EhProj.forward(cat([layer.ENorm.forward(e), layer.HNorm.forward(previous)], -1));
        using var h = ((DecoderLayer)layer).Forward(combined, new ForwardContext());
        using var logits = model.LmHead.forward(layer.SharedHead.Norm.forward(h));
        Assert.True(allclose(logits, mtp.Logits, 1e-5, 1e-6));
    }

    [Fact]
    public void Parameter_count_matches_the_size_arithmetic()
    {
        foreach (var config in new[] { ModelPresets.Tiny, ModelPresets.Tiny with { QLoraRank = null, NumNextnPredictLayers = 2 } })
        {
            using var model = new DeepSeekV3ForCausalLM(config);
            var size = new ModelSize(config);
            long buffers = model.Model.Layers.Sum(l => l.Moe?.Gate.ExpertScoreCorrectionBias?.NumberOfElements ?? 0);
            // ModelSize counts the correction bias as a parameter; the model holds it as a buffer.
            Assert.Equal(size.TotalParameters + size.MtpParameters, model.ParameterCount + buffers);
        }
    }

    [Fact]
    public void Initialization_is_deterministic_under_a_seed_and_uses_the_report_std()
    {
        using var a = new DeepSeekV3ForCausalLM(ModelPresets.Tiny);
        using var b = new DeepSeekV3ForCausalLM(ModelPresets.Tiny);
        using var c = new DeepSeekV3ForCausalLM(ModelPresets.Tiny);
        WeightInitializer.Initialize(a, 42);
        WeightInitializer.Initialize(b, 42);
        WeightInitializer.Initialize(c, 43);
        var pa = a.state_dict(); var pb = b.state_dict(); var pc = c.state_dict();
        Assert.All(pa.Keys, k => Assert.True(pa[k].equal(pb[k]).all().item<bool>(), k));
        Assert.False(pa["lm_head.weight"].equal(pc["lm_head.weight"]).all().item<bool>());
        Assert.Equal(0.006, pa["model.embed_tokens.weight"].std().item<float>(), 4);
        Assert.True(pa["model.layers.0.input_layernorm.weight"].eq(1).all().item<bool>());
    }

    [Fact]
    public void Bf16_model_tracks_the_fp32_model_on_the_same_rounded_weights_and_keeps_fp32_router_bias()
    {
        using var model = TinyModels.Create();
        using var tokens = TinyModels.Tokens(1, 8, 512);
        using var _ = no_grad();
        // The fp32 reference runs on the very weights the bf16 model will hold (every parameter rounded to bf16;
        // the router bias is a buffer and stays fp32), so what is left is bf16 rounding of the activations.
        foreach (var (_, parameter) in model.named_parameters())
            parameter.copy_(parameter.to(ScalarType.BFloat16).to(ScalarType.Float32));
        using var f32 = model.Forward(tokens);
        model.To(CPU, ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, model.LmHead.Weight.dtype);
        Assert.Equal(ScalarType.Float32, model.Model.Layers[1].Moe!.Gate.ExpertScoreCorrectionBias!.dtype);
        using var bf16 = model.Forward(tokens);
        double diff = (bf16.Logits.to(ScalarType.Float32) - f32.Logits).abs().max().item<float>();
        double largest = f32.Logits.abs().max().item<float>();
        // bf16 keeps 8 significant bits: each rounding moves a value by at most 2⁻⁹ of itself, and the logits come
        // out of ~20 rounded matmuls, norms and residual sums in series, whose errors partly cancel. Measured: 3.1e-3
        // for logits up to 0.66, i.e. 1.2 · 2⁻⁸ · max|logit|. The bound 3 · 2⁻⁸ · max|logit| leaves a 2.5× margin;
        // the former 5% of the largest logit was 13 · 2⁻⁸, wide enough for a statistic or a sum done in bf16.
        double bound = 3 * Math.Pow(2, -8) * largest;
        Assert.True(diff < bound, $"max abs diff {diff:E2}, bound {bound:E2} (max |logit| {largest:F3})");
    }

    [Fact]
    public void V2_style_model_runs_without_query_compression_or_correction_bias()
    {
        // DeepSeek-V2-Lite's choices at tiny size: softmax gating, plain top-k, no renormalization, no q_lora.
        var v2 = ModelPresets.Tiny with
        {
            ModelType = "deepseek_v2", QLoraRank = null, ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.Greedy,
            NormTopkProb = false, RoutedScalingFactor = 1.0, NGroup = 1, TopkGroup = 1, NumNextnPredictLayers = 0,
        };
        using var model = TinyModels.Create(v2);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", model.state_dict().Keys);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("e_score_correction_bias") || k.Contains("q_a_proj"));
        using var tokens = TinyModels.Tokens(1, 6, v2.VocabSize);
        using var naive = model.Forward(tokens, new ForwardContext { Mode = AttentionMode.Naive });
        using var absorbed = model.Forward(tokens, new ForwardContext { Mode = AttentionMode.Absorbed });
        Assert.True(allclose(naive.Logits, absorbed.Logits, 1e-4, 1e-5));
    }
}
