using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The one rule for which GEMMs each part of the model uses under a <see cref="TrainingPrecision"/> (report §3.3.1,
/// Fig. 6; §3.3.3). FP8: every projection of attention (q/kv down- and up-projections, o_proj), of the dense MLPs,
/// shared and routed experts and the MTP modules' eh_proj; UE8M0 scales (if the recipe wants them) for the input of
/// o_proj and of the routed experts' up-projections and for the gradient into their down-projections. Kept in
/// bfloat16: the output head and the attention core; in float32: the embedding, RMSNorms, the MoE gate and the
/// combine (MoE gating and combine are tiny; the report names them as kept in higher precision). Also FP8 (§3.3.3):
/// o_proj keeps its input for Wgrad in E5M6, the MoE dispatches its routed tokens in FP8 (quantized once for both
/// up-projections), and the SwiGLU of every MoE expert (routed and shared) keeps its inputs in FP8 and is recomputed
/// in backward. The combine's inputs, the experts' outputs, are bfloat16 values (FP8 Fprop rounds them).
/// BFloat16: every projection, head and attention core in bfloat16.
/// </summary>
internal static class PrecisionPlan
{
    public static void Apply(DeepSeekV3ForCausalLM model, TrainingPrecision precision, Fp8Recipe recipe)
    {
        ILinearGemms? high = precision == TrainingPrecision.Float32 ? null : BFloat16Gemms.Instance;
        bool fp8 = precision == TrainingPrecision.Fp8, pow2 = recipe.PowerOfTwoWhereReportDoes;
        var plain = fp8 ? new Fp8LinearGemms(recipe) : high;
        var pow2Input = fp8 ? new Fp8LinearGemms(recipe, powerOfTwoInput: pow2) : high;
        var pow2Gradient = fp8 ? new Fp8LinearGemms(recipe, powerOfTwoGradient: pow2) : high;
        var attentionOutput = fp8 ? new Fp8LinearGemms(recipe, powerOfTwoInput: pow2, inputCache: ActivationCacheFormat.E5M6) : high;
        var swiGluCache = fp8 ? recipe.Scaling : null;

        model.LmHead.Gemms = high;
        foreach (var layer in model.Model.Layers)
        {
            var attention = layer.SelfAttn;
            attention.CoreDtype = high is null ? null : ScalarType.BFloat16;
            foreach (var projection in new[] { attention.QAProj, attention.QBProj, attention.QProj, attention.KvAProjWithMqa, attention.KvBProj })
                if (projection is not null) projection.Gemms = plain;
            attention.OProj.Gemms = attentionOutput;                                       // after attention, §3.3.3
            if (layer.DenseMlp is { } dense) Use(dense, plain, plain, null);
            if (layer.Moe is { } moe)
            {
                if (moe.SharedExperts is { } shared) Use(shared, plain, plain, swiGluCache);
                foreach (int expert in moe.HeldExperts)
                    Use(moe.Expert(expert), pow2Input, pow2Gradient, swiGluCache);         // before dispatch / combine
                moe.DispatchScaling = (pow2Input as Fp8LinearGemms)?.InputScaling;         // the experts' own input tiles
            }
            if (layer is MtpLayer mtp) mtp.EhProj.Gemms = plain;
        }
    }

    private static void Use(SwiGluMlp mlp, ILinearGemms? upProjections, ILinearGemms? downProjection, Fp8Scaling? swiGluCache)
    {
        mlp.SwiGluCache = swiGluCache;
        mlp.GateProj.Gemms = upProjections;
        mlp.UpProj.Gemms = upProjections;
        mlp.DownProj.Gemms = downProjection;
    }
}
