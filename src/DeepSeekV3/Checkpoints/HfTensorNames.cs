using DeepSeekV3.Configuration;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// The few facts about HF DeepSeek checkpoint names that are not simply our state-dict names
/// (docs/reference-notes.md#checkpoint-format): which weights DeepSeek stores as FP8 with block scales, the scale
/// tensor's name, and the MTP modules' stored copies of the shared embedding and head.
/// </summary>
public static class HfTensorNames
{
    public const string ScaleSuffix = "_scale_inv";

    /// <summary><c>x.weight</c> → <c>x.weight_scale_inv</c>.</summary>
    public static string ScaleOf(string weightName) => weightName + ScaleSuffix;

    /// <summary>
    /// Linear weights inside transformer blocks are FP8 in DeepSeek's release (attention projections, dense and
    /// expert FFNs); embeddings, the head, norms, the router and the MTP eh_proj stay in high precision.
    /// </summary>
    public static bool IsFp8Weight(string name) =>
        name.StartsWith("model.layers.", StringComparison.Ordinal)
        && (name.EndsWith("_proj.weight", StringComparison.Ordinal) || name.EndsWith("_proj_with_mqa.weight", StringComparison.Ordinal))
        && !name.EndsWith(".eh_proj.weight", StringComparison.Ordinal);

    /// <summary>
    /// Tensors an HF checkpoint stores once per MTP module that our model shares with the main model:
    /// (stored name, main-model name).
    /// </summary>
    public static IEnumerable<(string Stored, string Shared)> MtpSharedCopies(ModelConfig config)
    {
        for (int k = 0; k < config.NumNextnPredictLayers; k++)
        {
            int layer = config.NumHiddenLayers + k;
            yield return ($"model.layers.{layer}.embed_tokens.weight", "model.embed_tokens.weight");
            yield return ($"model.layers.{layer}.shared_head.head.weight", "lm_head.weight");
        }
    }
}
