using System.Globalization;

namespace DeepSeekV3.Configuration;

/// <summary>The facts `dsv3 info` prints about a config: shape, routing, parameters and KV-cache size.</summary>
public static class ModelSummary
{
    public static IReadOnlyList<(string Name, string Value)> Describe(ModelConfig c)
    {
        var size = new ModelSize(c);
        var rows = new List<(string, string)>
        {
            ("architecture", $"{string.Join(",", c.Architectures)} ({c.ModelType})"),
            ("layers", $"{c.NumHiddenLayers} ({c.FirstKDenseReplace} dense, {Enumerable.Range(0, c.NumHiddenLayers).Count(c.IsMoeLayer)} MoE) + {c.NumNextnPredictLayers} MTP"),
            ("hidden / vocab", $"{c.HiddenSize} / {c.VocabSize}"),
            ("attention (MLA)", $"{c.NumAttentionHeads} heads, q_lora_rank {(c.HasQueryCompression ? c.QLoraRank : "none")}, " +
                                $"kv_lora_rank {c.KvLoraRank}, qk {c.QkNopeHeadDim}+{c.QkRopeHeadDim}, v {c.VHeadDim}"),
            ("experts", c.NRoutedExperts == 0 ? "none" :
                $"{c.NRoutedExperts} routed (top-{c.NumExpertsPerTok}, {c.NGroup} groups, top-{c.TopkGroup} groups) + {c.NSharedExperts} shared, " +
                $"{ConfigEnumConverter<ScoringFunction>.NameOf(c.ScoringFunc)}/{ConfigEnumConverter<TopkMethod>.NameOf(c.TopkMethod)}, scale {c.RoutedScalingFactor}"),
            ("context", c.RopeScaling is { Kind: "yarn" } y
                ? $"{c.MaxPositionEmbeddings} (YaRN x{y.Factor} over {y.OriginalMaxPositionEmbeddings})"
                : $"{c.MaxPositionEmbeddings}"),
            ("weights", c.QuantizationConfig is { } q ? $"fp8 {q.Format}, {q.WeightBlockSize[0]}x{q.WeightBlockSize[1]} block scales" : c.TorchDtype),
            ("total parameters", Count(size.TotalParameters)),
            ("activated per token", Count(size.ActivatedParameters)),
            ("MTP parameters", Count(size.MtpParameters)),
            ("KV cache / token (bf16)", $"{Bytes(size.LatentCacheBytesPerToken(2))} latent vs {Bytes(size.MhaCacheBytesPerToken(2))} MHA " +
                $"({(double)size.MhaCacheBytesPerToken(2) / size.LatentCacheBytesPerToken(2):F1}x smaller)"),
        };
        return rows;
    }

    /// <summary>671,026,522,112 → "671.0B (671,026,522,112)".</summary>
    public static string Count(long n)
    {
        string scaled = n >= 1_000_000_000 ? $"{n / 1e9:F2}B" : n >= 1_000_000 ? $"{n / 1e6:F1}M" : $"{n / 1e3:F1}K";
        return $"{scaled} ({n.ToString("N0", CultureInfo.InvariantCulture)})";
    }

    private static string Bytes(long n) => $"{n.ToString("N0", CultureInfo.InvariantCulture)} bytes";
}
