namespace DeepSeekV3.Configuration;

/// <summary>
/// Checks that a <see cref="ModelConfig"/> describes a model we can build. Every failure names the field, its value
/// and the rule it breaks, e.g. <c>config.json: n_routed_experts = 10 must be divisible by n_group = 4</c>.
/// </summary>
public static class ConfigValidator
{
    public static void Validate(ModelConfig c, string source = "config")
    {
        void Fail(string field, string message) =>
            throw new ConfigException($"{source}: {message}") { Field = field };
        void Positive(string field, double value)
        {
            if (!(value > 0)) Fail(field, $"{field} = {value} must be > 0");
        }
        void NonNegative(string field, int value)
        {
            if (value < 0) Fail(field, $"{field} = {value} must be >= 0");
        }

        Positive("vocab_size", c.VocabSize);
        Positive("hidden_size", c.HiddenSize);
        Positive("num_hidden_layers", c.NumHiddenLayers);
        NonNegative("num_nextn_predict_layers", c.NumNextnPredictLayers);
        Positive("num_attention_heads", c.NumAttentionHeads);
        Positive("kv_lora_rank", c.KvLoraRank);
        NonNegative("qk_nope_head_dim", c.QkNopeHeadDim);
        Positive("qk_rope_head_dim", c.QkRopeHeadDim);
        if (c.QkRopeHeadDim % 2 != 0)
            Fail("qk_rope_head_dim", $"qk_rope_head_dim = {c.QkRopeHeadDim} must be even (RoPE rotates pairs)");
        Positive("v_head_dim", c.VHeadDim);
        if (c.QLoraRank is < 0)
            Fail("q_lora_rank", $"q_lora_rank = {c.QLoraRank} must be null, 0 (no compression) or > 0");
        Positive("rms_norm_eps", c.RmsNormEps);
        Positive("rope_theta", c.RopeTheta);
        Positive("max_position_embeddings", c.MaxPositionEmbeddings);
        if (c.HiddenAct != "silu")
            Fail("hidden_act", $"hidden_act = \"{c.HiddenAct}\" is not supported; DeepSeek models use \"silu\" (SwiGLU)");
        if (c.AttentionBias)
            Fail("attention_bias", "attention_bias = true is not supported; DeepSeek models have no projection biases");
        if (c.TieWordEmbeddings)
            Fail("tie_word_embeddings", "tie_word_embeddings = true is not supported; DeepSeek models keep lm_head separate");

        NonNegative("first_k_dense_replace", c.FirstKDenseReplace);
        Positive("moe_layer_freq", c.MoeLayerFreq);
        bool anyDense = Enumerable.Range(0, c.NumHiddenLayers).Any(l => !c.IsMoeLayer(l));
        if (anyDense) Positive("intermediate_size", c.IntermediateSize);
        ValidateMoe(c, Fail, Positive, NonNegative);
        ValidateRope(c, Fail);
        ValidateQuantization(c, Fail);
    }

    private static void ValidateMoe(ModelConfig c, Action<string, string> fail,
        Action<string, double> positive, Action<string, int> nonNegative)
    {
        nonNegative("n_routed_experts", c.NRoutedExperts);
        if (c.NRoutedExperts == 0) return;
        positive("moe_intermediate_size", c.MoeIntermediateSize);
        nonNegative("n_shared_experts", c.NSharedExperts);
        positive("routed_scaling_factor", c.RoutedScalingFactor);
        if (!Enum.IsDefined(c.ScoringFunc))
            fail("scoring_func", $"scoring_func = {c.ScoringFunc} is not a known scoring function");
        if (!Enum.IsDefined(c.TopkMethod))
            fail("topk_method", $"topk_method = {c.TopkMethod} is not a known top-k method");
        if (c.NumExpertsPerTok < 1 || c.NumExpertsPerTok > c.NRoutedExperts)
            fail("num_experts_per_tok", $"num_experts_per_tok = {c.NumExpertsPerTok} must be in [1, n_routed_experts = {c.NRoutedExperts}]");
        positive("n_group", c.NGroup);
        if (c.NRoutedExperts % c.NGroup != 0)
            fail("n_group", $"n_routed_experts = {c.NRoutedExperts} must be divisible by n_group = {c.NGroup}");
        if (c.TopkGroup < 1 || c.TopkGroup > c.NGroup)
            fail("topk_group", $"topk_group = {c.TopkGroup} must be in [1, n_group = {c.NGroup}]");
        int perGroup = c.NRoutedExperts / c.NGroup;
        if (c.NumExpertsPerTok > c.TopkGroup * perGroup)
            fail("num_experts_per_tok", $"num_experts_per_tok = {c.NumExpertsPerTok} exceeds the {c.TopkGroup * perGroup} experts " +
                 $"in topk_group = {c.TopkGroup} groups of {perGroup}");
        if (c.TopkMethod == TopkMethod.NoauxTc && c.NGroup > 1 && perGroup < 2)
            fail("n_group", $"topk_method noaux_tc scores a group by its top-2 experts; n_routed_experts / n_group = {perGroup} must be >= 2");
    }

    private static void ValidateRope(ModelConfig c, Action<string, string> fail)
    {
        if (c.RopeScaling is not { } r) return;
        if (r.Kind is not ("yarn" or "default"))
            fail("rope_scaling", $"rope_scaling type \"{r.Kind}\" is not supported; DeepSeek models use \"yarn\"");
        if (r.Kind != "yarn") return;
        if (!(r.Factor >= 1))
            fail("rope_scaling.factor", $"rope_scaling.factor = {r.Factor} must be >= 1");
        if (r.OriginalMaxPositionEmbeddings <= 0)
            fail("rope_scaling.original_max_position_embeddings",
                 $"rope_scaling.original_max_position_embeddings = {r.OriginalMaxPositionEmbeddings} must be > 0");
        if (!(r.BetaFast > r.BetaSlow && r.BetaSlow > 0))
            fail("rope_scaling.beta_fast", $"rope_scaling needs beta_fast > beta_slow > 0, found beta_fast = {r.BetaFast}, beta_slow = {r.BetaSlow}");
    }

    private static void ValidateQuantization(ModelConfig c, Action<string, string> fail)
    {
        if (c.QuantizationConfig is not { } q) return;
        if (q.QuantMethod != "fp8" || q.Format != "e4m3")
            fail("quantization_config", $"quantization_config {q.QuantMethod}/{q.Format} is not supported; expected fp8/e4m3");
        if (q.WeightBlockSize is not [> 0, > 0])
            fail("quantization_config.weight_block_size",
                 $"quantization_config.weight_block_size = [{string.Join(", ", q.WeightBlockSize)}] must be two positive sizes");
    }
}
