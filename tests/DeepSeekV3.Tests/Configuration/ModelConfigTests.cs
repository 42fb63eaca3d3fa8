using DeepSeekV3.Configuration;

namespace DeepSeekV3.Tests.Configuration;

public class ModelConfigTests
{
    // The published DeepSeek-V3 config.json, as HF serves it:
    // https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json
    private const string V3Json = """
    {
      "architectures": ["DeepseekV3ForCausalLM"],
      "attention_bias": false, "attention_dropout": 0.0,
      "auto_map": {"AutoConfig": "configuration_deepseek.DeepseekV3Config"},
      "aux_loss_alpha": 0.001, "bos_token_id": 0, "eos_token_id": 1, "ep_size": 1,
      "first_k_dense_replace": 3, "hidden_act": "silu", "hidden_size": 7168, "initializer_range": 0.02,
      "intermediate_size": 18432, "kv_lora_rank": 512, "max_position_embeddings": 163840,
      "model_type": "deepseek_v3", "moe_intermediate_size": 2048, "moe_layer_freq": 1, "n_group": 8,
      "n_routed_experts": 256, "n_shared_experts": 1, "norm_topk_prob": true, "num_attention_heads": 128,
      "num_experts_per_tok": 8, "num_hidden_layers": 61, "num_key_value_heads": 128, "num_nextn_predict_layers": 1,
      "q_lora_rank": 1536, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
      "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]},
      "rms_norm_eps": 1e-06,
      "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,
                       "original_max_position_embeddings": 4096, "type": "yarn"},
      "rope_theta": 10000, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "seq_aux": true,
      "tie_word_embeddings": false, "topk_group": 4, "topk_method": "noaux_tc", "torch_dtype": "bfloat16",
      "transformers_version": "4.33.1", "use_cache": true, "v_head_dim": 128, "vocab_size": 129280
    }
    """;

    [Fact]
    public void Published_v3_config_parses_to_the_v3_preset()
    {
        var parsed = ModelConfig.Parse(V3Json);
        var preset = ModelPresets.V3;
        Assert.Equal(preset.HiddenSize, parsed.HiddenSize);
        Assert.Equal(1536, parsed.QLoraRank);
        Assert.Equal(40, parsed.RopeScaling!.Factor);
        Assert.Equal([128, 128], parsed.QuantizationConfig!.WeightBlockSize);
        Assert.Equal(TopkMethod.NoauxTc, parsed.TopkMethod);
        // Every modelled field equal: compare serializations without the pass-through extras.
        Assert.Equal((preset with { Extra = null }).ToJson(), (parsed with { Extra = null }).ToJson());
    }

    [Fact]
    public void Unknown_fields_survive_a_round_trip()
    {
        var parsed = ModelConfig.Parse(V3Json);
        var again = ModelConfig.Parse(parsed.ToJson());
        Assert.Equal("4.33.1", again.Extra!["transformers_version"].GetString());
        Assert.True(again.Extra.ContainsKey("auto_map"));
        Assert.Equal(parsed.ToJson(), again.ToJson());
    }

    [Fact]
    public void Routing_strings_are_parsed_into_enums_and_written_back_as_config_json_names()
    {
        var v2 = ModelConfig.Parse("{\"scoring_func\": \"softmax\", \"topk_method\": \"group_limited_greedy\"}");
        Assert.Equal(ScoringFunction.Softmax, v2.ScoringFunc);
        Assert.Equal(TopkMethod.GroupLimitedGreedy, v2.TopkMethod);
        string json = v2.ToJson();
        Assert.Contains("\"scoring_func\": \"softmax\"", json);
        Assert.Contains("\"topk_method\": \"group_limited_greedy\"", json);
        Assert.Contains("\"topk_method\": \"noaux_tc\"", ModelPresets.V3.ToJson());
    }

    /// <summary>https://huggingface.co/deepseek-ai/DeepSeek-V2-Lite/blob/main/config.json, every field but auto_map.</summary>
    [Fact]
    public void Published_v2_lite_config_parses_to_the_v2_lite_preset()
    {
        const string json = """
        {"architectures": ["DeepseekV2ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
         "aux_loss_alpha": 0.001, "bos_token_id": 100000, "eos_token_id": 100001, "first_k_dense_replace": 1,
         "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 10944,
         "kv_lora_rank": 512, "max_position_embeddings": 163840, "model_type": "deepseek_v2", "moe_intermediate_size": 1408,
         "moe_layer_freq": 1, "n_group": 1, "n_routed_experts": 64, "n_shared_experts": 2, "norm_topk_prob": false,
         "num_attention_heads": 16, "num_experts_per_tok": 6, "num_hidden_layers": 27, "num_key_value_heads": 16,
         "pretraining_tp": 1, "q_lora_rank": null, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "rms_norm_eps": 1e-06,
         "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 0.707, "mscale_all_dim": 0.707,
                          "original_max_position_embeddings": 4096, "type": "yarn"},
         "rope_theta": 10000, "routed_scaling_factor": 1.0, "scoring_func": "softmax", "seq_aux": true,
         "tie_word_embeddings": false, "topk_group": 1, "topk_method": "greedy", "torch_dtype": "bfloat16",
         "transformers_version": "4.33.1", "use_cache": true, "v_head_dim": 128, "vocab_size": 102400}
        """;
        var published = ModelConfig.Parse(json);
        Assert.Equal(["pretraining_tp", "transformers_version", "use_cache"], published.Extra!.Keys.Order());
        Assert.Equal(ModelPresets.V2Lite.ToJson(), (published with { Extra = null }).ToJson());
        Assert.False(published.UsesCorrectionBias);   // greedy top-k: no e_score_correction_bias tensor
    }

    [Fact]
    public void V2_lite_config_with_null_q_lora_rank_and_omitted_v3_fields_gets_v2_behaviour()
    {
        const string json = """
        {"model_type": "deepseek_v2", "vocab_size": 102400, "hidden_size": 2048, "intermediate_size": 10944,
         "moe_intermediate_size": 1408, "num_hidden_layers": 27, "num_attention_heads": 16, "num_key_value_heads": 16,
         "n_shared_experts": 2, "n_routed_experts": 64, "num_experts_per_tok": 6, "first_k_dense_replace": 1,
         "q_lora_rank": null, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128}
        """;
        var c = ModelConfig.Parse(json);
        Assert.Null(c.QLoraRank);
        Assert.False(c.HasQueryCompression);
        Assert.Equal(ScoringFunction.Softmax, c.ScoringFunc);
        Assert.Equal(TopkMethod.Greedy, c.TopkMethod);
        Assert.False(c.NormTopkProb);
        Assert.Equal(0, c.NumNextnPredictLayers);
    }

    [Theory]
    [InlineData("\"n_routed_experts\": 10, \"n_group\": 4", "n_group", "divisible")]
    [InlineData("\"topk_group\": 9", "topk_group", "[1, n_group = 8]")]
    [InlineData("\"hidden_size\": -5", "hidden_size", "-5 must be > 0")]
    [InlineData("\"scoring_func\": \"tanh\"", "scoring_func", "\"tanh\" is unknown")]
    [InlineData("\"topk_method\": \"random\"", "topk_method", "\"random\" is unknown")]
    [InlineData("\"num_experts_per_tok\": 300", "num_experts_per_tok", "300")]
    [InlineData("\"qk_rope_head_dim\": 7", "qk_rope_head_dim", "even")]
    [InlineData("\"q_lora_rank\": -1", "q_lora_rank", "-1")]
    [InlineData("\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 0.5}", "rope_scaling.factor", "0.5")]
    [InlineData("\"rope_scaling\": {\"type\": \"dynamic\"}", "rope_scaling", "dynamic")]
    [InlineData("\"quantization_config\": {\"quant_method\": \"int4\"}", "quantization_config", "int4")]
    public void Invalid_fields_fail_naming_field_value_and_rule(string fields, string field, string fragment)
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Parse("{" + fields + "}", "my/config.json"));
        Assert.Equal(field, e.Field);
        Assert.Contains(fragment, e.Message);
        Assert.StartsWith("my/config.json:", e.Message);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 64,,,")]
    [InlineData("[1, 2]")]
    [InlineData("{\"topk_method\": 3}")]
    [InlineData("{\"hidden_size\": \"wide\"}")]
    public void Malformed_json_fails_with_the_file_name(string json)
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Parse(json, "bad.json"));
        Assert.StartsWith("bad.json:", e.Message);
    }

    [Fact]
    public void Missing_file_fails_with_its_path()
    {
        var e = Assert.Throws<ConfigException>(() => ModelConfig.Load("/nonexistent/config.json"));
        Assert.Contains("/nonexistent/config.json", e.Message);
    }

    [Fact]
    public void Moe_layers_start_after_the_first_dense_layers()
    {
        var c = ModelPresets.V3;
        Assert.False(c.IsMoeLayer(2));
        Assert.True(c.IsMoeLayer(3));
        Assert.True(c.IsMoeLayer(60));
    }

    [Fact]
    public void Presets_all_validate_and_save_load_identically()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        foreach (string name in ModelPresets.Names)
        {
            var preset = ModelPresets.Get(name);
            ConfigValidator.Validate(preset, name);
            string path = Path.Combine(dir, name + ".json");
            preset.Save(path);
            Assert.Equal(preset.ToJson(), ModelConfig.Load(path).ToJson());
        }
    }
}
