using System.Globalization;
using System.Text;

namespace DeepSeekV3.Distributed.Planning;

/// <summary>The human table <c>dsv3 plan</c> prints, with the assumptions behind each number.</summary>
public static class TrainingPlanText
{
    public static string Format(TrainingPlan plan, string modelName)
    {
        var p = plan.Inputs;
        var m = plan.Memory;
        var text = new StringBuilder();
        void Line(string name, string value) => text.AppendLine(I($"  {name,-30} {value}"));
        static string B(double count) => (count / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + "B";
        static string I(FormattableString s) => FormattableString.Invariant(s);
        static string GB(double bytes) => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + " GB";

        text.AppendLine(I($"plan: {modelName} on {p.Gpus} GPUs ({p.GpusPerNode} per node): DualPipe over {p.PipelineParallel} stages × {plan.DataParallel} data parallel, ") +
            I($"expert parallel {p.ExpertParallel} ({plan.ExpertReplicas} expert replicas per stage), ZeRO-1"));
        text.AppendLine("model");
        Line("parameters", $"{B(plan.TotalParameters)} ({B(plan.TotalParameters - plan.MtpParameters)} main + {B(plan.MtpParameters)} MTP); {B(plan.ActivatedParameters)} activated per token");
        Line("FLOPs per token (training)", I($"{plan.FlopsPerToken / 1e9:0.0} GFLOP = 6 × activated matrix weights (main, head, MTP) + attention {plan.AttentionFlopsPerToken / 1e9:0.0} GFLOP ") +
            I($"(QKᵀ and AV at {p.SequenceLength} tokens, causal: (T+1)/2 keys per query)"));
        Line("training FLOPs", I($"{plan.TrainingFlops:0.00e+00} for {TokenCount.Format(p.Tokens)} tokens"));
        text.AppendLine("step");
        Line("tokens per step", I(
            $"{TokenCount.Format(plan.TokensPerStep)} ({p.GlobalBatch} × {p.SequenceLength}); {plan.Steps:N0} steps"));
        Line("micro-batches per pipeline", I(
            $"{plan.MicroBatches} (num_chunks; {plan.MicroBatches / 2} per direction), {plan.SequencesPerMicroBatch} sequence(s) each"));
        Line("DualPipe bubble", I(
            $"{plan.Bubble:G4} chunk-times = {plan.BubbleFraction:P1} of the step (simulated, F=1 B=2 W=1 F&B=3; report: (PP/2−1)(F&B+B−3W))"));
        Line("all-to-all over IB per GPU", I($"{GB(plan.AllToAllBytesPerGpuPerStep)} per step = {plan.AllToAllSecondsPerGpuPerStep:0.0} s at 50 GB/s ") +
            I($"({plan.AllToAllBytesPerTokenLayer / 1e3:0.0} KB per token and MoE layer: ≤ {plan.NodesPerToken} nodes × (FP8 dispatch + BF16 combine), forward and backward)"));
        text.AppendLine(I($"memory per GPU (rank {m.Rank}, the fullest)"));
        Line("parameters held", $"{B(m.Parameters)} (of which {B(m.ExpertParameters)} routed-expert shards), both DualPipe stage copies");
        Line("weights (BF16)", GB(m.WeightBytes));
        Line("gradients (FP32)", GB(m.GradientBytes));
        Line("optimizer (ZeRO-1)", $"{GB(m.OptimizerBytes)} (FP32 master + BF16 AdamW moments, sharded over the data-parallel replicas of each copy)");
        Line("activations", I(
            $"{GB(m.ActivationBytes)} ({m.PeakMicroBatches} stage-micro-batches in flight; RMSNorm and MLA up-projections recomputed)"));
        Line("total", $"{GB(m.TotalBytes)} of 80 GB (H800)");
        text.AppendLine("cost");
        if (plan.GpuHoursAtMfu is double hours)
            Line(I($"GPU-hours at MFU {p.Mfu:P0}"), I($"{hours / 1e6:0.000}M (against the BF16 peak, 989 TFLOPS)"));
        Line("report", I(
            $"{plan.ReportGpuHours / 1e6:0.000}M GPU-hours (180K per trillion tokens; 2.664M for 14.8T), {plan.ReportSecondsPerStep:0.0} s per step"));
        Line("MFU the report implies", I(
            $"{plan.ImpliedMfuBf16:P1} of the BF16 peak (989 TFLOPS), {plan.ImpliedMfuFp8:P1} of the FP8 peak (1979 TFLOPS)"));
        return text.ToString();
    }
}
