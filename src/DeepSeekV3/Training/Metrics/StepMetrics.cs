using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Metrics;

/// <summary>One line of <c>OUT/metrics.jsonl</c>: what happened in one optimizer step (and, every eval interval,
/// the validation loss). Loss is the main next-token cross-entropy; TotalLoss adds λ·MTP and α·balance.</summary>
public sealed record StepMetrics
{
    [JsonPropertyName("step")] public long Step { get; init; }
    [JsonPropertyName("loss")] public double Loss { get; init; }
    [JsonPropertyName("mtp_loss")] public double MtpLoss { get; init; }
    [JsonPropertyName("balance_loss")] public double BalanceLoss { get; init; }
    [JsonPropertyName("total_loss")] public double TotalLoss { get; init; }
    [JsonPropertyName("val_loss")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double? ValidationLoss { get; init; }
    [JsonPropertyName("lr")] public double LearningRate { get; init; }
    [JsonPropertyName("mtp_weight")] public double MtpWeight { get; init; }
    [JsonPropertyName("bias_speed")] public double BiasSpeed { get; init; }
    [JsonPropertyName("grad_norm")] public double GradNorm { get; init; }
    [JsonPropertyName("skipped")] public bool Skipped { get; init; }
    [JsonPropertyName("skipped_total")] public long SkippedTotal { get; init; }
    [JsonPropertyName("batch_sequences")] public int BatchSequences { get; init; }
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; init; }
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
    [JsonPropertyName("tokens_per_s")] public double TokensPerSecond { get; init; }
    /// <summary>CPU time the whole process used during the step: on a shared machine, wall time can be much longer.</summary>
    /// <summary>Processes training together (data-parallel ranks); tokens and tokens/s count all of them.</summary>
    [JsonPropertyName("ranks")] public int Ranks { get; init; } = 1;
    /// <summary>Seconds of this step rank 0 spent blocked in communication (gradient sums, parameter gathers,
    /// expert dispatch and combine).</summary>
    [JsonPropertyName("comm_seconds")] public double CommunicationSeconds { get; init; }
    /// <summary>The part of <see cref="CommunicationSeconds"/> spent blocked in expert-parallel dispatch and combine.</summary>
    [JsonPropertyName("dispatch_seconds")] public double DispatchSeconds { get; init; }
    [JsonPropertyName("cpu_seconds")] public double CpuSeconds { get; init; }
    [JsonPropertyName("mfu")] public double Mfu { get; init; }
    /// <summary>Largest MaxVio over the MoE layers (main and MTP) this step.</summary>
    [JsonPropertyName("max_vio")] public double MaxVio { get; init; }
    /// <summary>MaxVio per MoE layer, keyed by its index in model.layers.</summary>
    [JsonPropertyName("max_vio_layers")] public Dictionary<string, double> MaxVioByLayer { get; init; } = [];
    /// <summary>Each MoE layer's share of routed slots per expert (sums to 1 per layer).</summary>
    [JsonPropertyName("expert_load")] public Dictionary<string, double[]> ExpertLoad { get; init; } = [];
}
