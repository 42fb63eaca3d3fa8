namespace DeepSeekV3.Configuration;

/// <summary>
/// Named model sizes. <c>tiny</c> exercises every feature in well under 2M parameters (tests); <c>small</c> is a
/// CPU-trainable DeepSeek-V3 in miniature (MLA with query compression, 16 routed experts in 4 groups, a shared
/// expert, a first dense layer, one MTP module); <c>v2-lite</c> and <c>v3</c> are the published configs.
/// </summary>
public static class ModelPresets
{
    public static IReadOnlyList<string> Names { get; } = ["tiny", "small", "v2-lite", "v3"];

    public static ModelConfig Get(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "small" => Small,
        "v2-lite" or "v2lite" => V2Lite,
        "v3" or "671b" => V3,
        _ => throw new ConfigException($"unknown preset \"{name}\"; expected one of {string.Join(", ", Names)}") { Field = "preset" },
    };

    /// <summary>
    /// DeepSeek-V3 671B exactly as published (https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json),
    /// FP8 block-quantized.
    /// </summary>
    public static ModelConfig V3 { get; } = new()
    {
        RopeScaling = new RopeScaling
        {
            Type = "yarn", Factor = 40, OriginalMaxPositionEmbeddings = 4096, BetaFast = 32, BetaSlow = 1,
            Mscale = 1.0, MscaleAllDim = 1.0,
        },
        QuantizationConfig = QuantizationConfig.DeepSeekFp8,
    };

    /// <summary>DeepSeek-V2-Lite (15.7B total, 2.4B activated): softmax gating, no query compression.</summary>
    public static ModelConfig V2Lite { get; } = new()
    {
        Architectures = ["DeepseekV2ForCausalLM"],
        ModelType = "deepseek_v2",
        VocabSize = 102400,
        HiddenSize = 2048,
        IntermediateSize = 10944,
        NumHiddenLayers = 27,
        NumNextnPredictLayers = 0,
        NumAttentionHeads = 16,
        NumKeyValueHeads = 16,
        QLoraRank = null,
        KvLoraRank = 512,
        MoeIntermediateSize = 1408,
        NSharedExperts = 2,
        NRoutedExperts = 64,
        NumExpertsPerTok = 6,
        NGroup = 1,
        TopkGroup = 1,
        TopkMethod = TopkMethod.Greedy,
        ScoringFunc = ScoringFunction.Softmax,
        NormTopkProb = false,
        RoutedScalingFactor = 1.0,
        FirstKDenseReplace = 1,
        BosTokenId = 100000,
        EosTokenId = 100001,
        RopeScaling = new RopeScaling
        {
            Type = "yarn", Factor = 40, OriginalMaxPositionEmbeddings = 4096, BetaFast = 32, BetaSlow = 1,
            Mscale = 0.707, MscaleAllDim = 0.707,
        },
    };

    /// <summary>About 45M parameters (about 13M activated per token), trainable on a CPU.</summary>
    public static ModelConfig Small { get; } = new()
    {
        VocabSize = 12288,
        HiddenSize = 512,
        IntermediateSize = 1408,
        NumHiddenLayers = 5,
        NumNextnPredictLayers = 1,
        NumAttentionHeads = 8,
        NumKeyValueHeads = 8,
        QLoraRank = 192,
        KvLoraRank = 128,
        QkNopeHeadDim = 32,
        QkRopeHeadDim = 16,
        VHeadDim = 32,
        MoeIntermediateSize = 256,
        NSharedExperts = 1,
        NRoutedExperts = 16,
        NumExpertsPerTok = 4,
        NGroup = 4,
        TopkGroup = 2,
        FirstKDenseReplace = 1,
        MaxPositionEmbeddings = 4096,
        RopeScaling = new RopeScaling
        {
            Type = "yarn", Factor = 4, OriginalMaxPositionEmbeddings = 1024, BetaFast = 32, BetaSlow = 1,
            Mscale = 1.0, MscaleAllDim = 1.0,
        },
        InitializerRange = 0.006,
        TorchDtype = "float32",
    };

    /// <summary>A few hundred thousand parameters with every feature of V3 switched on (YaRN active, groups, MTP).</summary>
    public static ModelConfig Tiny { get; } = new()
    {
        VocabSize = 512,
        HiddenSize = 64,
        IntermediateSize = 192,
        NumHiddenLayers = 3,
        NumNextnPredictLayers = 1,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 4,
        QLoraRank = 48,
        KvLoraRank = 32,
        QkNopeHeadDim = 16,
        QkRopeHeadDim = 8,
        VHeadDim = 16,
        MoeIntermediateSize = 32,
        NSharedExperts = 1,
        NRoutedExperts = 8,
        NumExpertsPerTok = 2,
        NGroup = 4,
        TopkGroup = 2,
        FirstKDenseReplace = 1,
        MaxPositionEmbeddings = 512,
        RopeScaling = new RopeScaling
        {
            Type = "yarn", Factor = 4, OriginalMaxPositionEmbeddings = 128, BetaFast = 32, BetaSlow = 1,
            Mscale = 1.0, MscaleAllDim = 1.0,
        },
        InitializerRange = 0.006,
        TorchDtype = "float32",
    };
}
