using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DeepSeekV3.IO;

namespace DeepSeekV3.Configuration;

/// <summary>
/// One DeepSeek model, field for field the HuggingFace <c>config.json</c> of <c>DeepseekV3ForCausalLM</c>
/// (https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json). DeepSeek-V2 / V2-Lite configs (<c>model_type: deepseek_v2</c>: softmax gating, no query compression)
/// load into the same type. Defaults are the published 671B values, as in HF's DeepseekV3Config.
/// Fields this type does not know are kept in <see cref="Extra"/> and written back unchanged.
/// </summary>
public sealed record ModelConfig
{
    [JsonPropertyName("architectures")] public string[] Architectures { get; init; } = ["DeepseekV3ForCausalLM"];
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "deepseek_v3";

    // Sizes of the residual stream and the dense FFN.
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 129280;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 7168;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 18432;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 61;
    [JsonPropertyName("num_nextn_predict_layers")] public int NumNextnPredictLayers { get; init; } = 1;

    // Multi-head Latent Attention (report §2.1.1). q_lora_rank null (or 0) means no query compression (V2-Lite).
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 128;
    [JsonPropertyName("num_key_value_heads")] public int NumKeyValueHeads { get; init; } = 128;
    [JsonPropertyName("q_lora_rank")] public int? QLoraRank { get; init; } = 1536;
    [JsonPropertyName("kv_lora_rank")] public int KvLoraRank { get; init; } = 512;
    [JsonPropertyName("qk_nope_head_dim")] public int QkNopeHeadDim { get; init; } = 128;
    [JsonPropertyName("qk_rope_head_dim")] public int QkRopeHeadDim { get; init; } = 64;
    [JsonPropertyName("v_head_dim")] public int VHeadDim { get; init; } = 128;
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("attention_dropout")] public double AttentionDropout { get; init; }

    // DeepSeekMoE (report §2.1.2).
    [JsonPropertyName("moe_intermediate_size")] public int MoeIntermediateSize { get; init; } = 2048;
    [JsonPropertyName("n_shared_experts")] public int NSharedExperts { get; init; } = 1;
    [JsonPropertyName("n_routed_experts")] public int NRoutedExperts { get; init; } = 256;
    [JsonPropertyName("num_experts_per_tok")] public int NumExpertsPerTok { get; init; } = 8;
    [JsonPropertyName("n_group")] public int NGroup { get; init; } = 8;
    [JsonPropertyName("topk_group")] public int TopkGroup { get; init; } = 4;
    [JsonPropertyName("topk_method")] public TopkMethod TopkMethod { get; init; } = TopkMethod.NoauxTc;
    [JsonPropertyName("scoring_func")] public ScoringFunction ScoringFunc { get; init; } = ScoringFunction.Sigmoid;
    [JsonPropertyName("norm_topk_prob")] public bool NormTopkProb { get; init; } = true;
    [JsonPropertyName("routed_scaling_factor")] public double RoutedScalingFactor { get; init; } = 2.5;
    [JsonPropertyName("first_k_dense_replace")] public int FirstKDenseReplace { get; init; } = 3;
    [JsonPropertyName("moe_layer_freq")] public int MoeLayerFreq { get; init; } = 1;
    [JsonPropertyName("ep_size")] public int EpSize { get; init; } = 1;
    [JsonPropertyName("aux_loss_alpha")] public double AuxLossAlpha { get; init; } = 0.001;
    [JsonPropertyName("seq_aux")] public bool SeqAux { get; init; } = true;

    // Positions (report §4.3; docs/reference-notes.md#yarn).
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 163840;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000;
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }

    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; init; } = 0.02;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; } = 0;
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; } = 1;
    [JsonPropertyName("torch_dtype")] public string TorchDtype { get; init; } = "bfloat16";
    [JsonPropertyName("quantization_config")] public QuantizationConfig? QuantizationConfig { get; init; }

    /// <summary>Fields of config.json this type does not model (auto_map, transformers_version, ...), kept verbatim.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>d_qk = d_n + d_r: the per-head query/key width (192 for V3).</summary>
    [JsonIgnore] public int QkHeadDim => QkNopeHeadDim + QkRopeHeadDim;

    /// <summary>True when queries go through the low-rank compression c_q (eqs. 6-7); false for V2-Lite.</summary>
    [JsonIgnore] public bool HasQueryCompression => QLoraRank is > 0;

    /// <summary>True when the router keeps a per-expert correction bias for selection (auxiliary-loss-free balancing).</summary>
    [JsonIgnore] public bool UsesCorrectionBias => TopkMethod == TopkMethod.NoauxTc;

    [JsonIgnore] public bool UsesYarn => RopeScaling is { Kind: "yarn" };

    /// <summary>Layer <paramref name="layer"/> uses DeepSeekMoE (else a dense SwiGLU FFN), as in HF's modeling code.</summary>
    public bool IsMoeLayer(int layer) =>
        NRoutedExperts > 0 && layer >= FirstKDenseReplace && layer % MoeLayerFreq == 0;

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>Reads and validates a config.json. Errors name the file, the field and the rule.</summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new ConfigException($"{path}: config file not found");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses and validates config JSON; <paramref name="source"/> names it in error messages.</summary>
    public static ModelConfig Parse(string json, string source = "config.json")
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions
            {
                AllowTrailingCommas = true,
                CommentHandling = JsonCommentHandling.Skip,
            });
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{source}: malformed JSON: {e.Message}", e);
        }
        if (node is not JsonObject obj)
            throw new ConfigException($"{source}: expected a JSON object at the top level");

        ApplyDeepSeekV2Defaults(obj);
        ModelConfig? config;
        try
        {
            config = obj.Deserialize<ModelConfig>(JsonOptions);
        }
        catch (JsonException e)
        {
            string field = e.Path?.TrimStart('$', '.') ?? "?";
            throw e is UnknownConfigValueException
                ? new ConfigException($"{source}: {field} = {e.Message}", e) { Field = field }
                : new ConfigException($"{source}: field '{field}' has the wrong type: {e.Message}", e) { Field = field };
        }
        if (config is null)
            throw new ConfigException($"{source}: empty config");
        ConfigValidator.Validate(config, source);
        return config;
    }

    /// <summary>
    /// DeepSeek-V2 configs may omit fields whose HF defaults are V3's; fill them with V2's behaviour
    /// (softmax gating without renormalization, plain top-k, no MTP) before reading.
    /// </summary>
    private static void ApplyDeepSeekV2Defaults(JsonObject obj)
    {
        if (obj["model_type"]?.GetValueKind() != JsonValueKind.String || (string?)obj["model_type"] != "deepseek_v2")
            return;
        var v2Defaults = new (string Field, JsonNode Value)[]
        {
            ("scoring_func", "softmax"), ("topk_method", "greedy"), ("norm_topk_prob", false),
            ("routed_scaling_factor", 1.0), ("n_group", 1), ("topk_group", 1), ("num_nextn_predict_layers", 0),
        };
        foreach (var (field, value) in v2Defaults)
            if (!obj.ContainsKey(field))
                obj[field] = value;
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes config.json atomically (temp file + rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson() + "\n");
}
