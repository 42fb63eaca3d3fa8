using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Distributed.Planning;

/// <summary>
/// Back-of-the-envelope numbers for pre-training a model on a GPU cluster laid out as DeepSeek-V3's (report §3.1–3.3:
/// DualPipe pipeline, expert parallelism inside each stage's data-parallel ranks, ZeRO-1): FLOPs per token, memory
/// per GPU, all-to-all traffic per step, the pipeline bubble, GPU-hours, and the MFU the report's cost implies.
/// </summary>
public sealed record TrainingPlan(
    PlanInputs Inputs,
    int DataParallel,
    int ExpertReplicas,
    int NodesPerToken,
    int MicroBatches,
    int SequencesPerMicroBatch,
    double TokensPerStep,
    double Steps,
    double TotalParameters,
    double ActivatedParameters,
    double MtpParameters,
    double FlopsPerToken,
    double AttentionFlopsPerToken,
    double TrainingFlops,
    GpuMemory Memory,
    double AllToAllBytesPerTokenLayer,
    double AllToAllBytesPerGpuPerStep,
    double AllToAllSecondsPerGpuPerStep,
    double Bubble,
    double BubbleFraction,
    double? GpuHoursAtMfu,
    double ReportGpuHours,
    double ReportSecondsPerStep,
    double ImpliedMfuBf16,
    double ImpliedMfuFp8)
{
    /// <summary>H800 (SXM) dense tensor-core peaks, FLOP/s: 989 TFLOPS BF16, 1979 TFLOPS FP8 (NVIDIA's H100 SXM
    /// figures without sparsity; the H800 differs in interconnect, not in its tensor cores).</summary>
    public const double H800PeakBf16 = 989e12, H800PeakFp8 = 1979e12;

    /// <summary>Report Table 1: 2664K H800 GPU-hours of pre-training for 14.8T tokens, 180K per trillion.</summary>
    public const double ReportGpuHoursPerTrillionTokens = 180e3;

    /// <summary>InfiniBand per GPU (report §3.2.2: 50 GB/s), bytes/s.</summary>
    public const double InfiniBandBytesPerSecond = 50e9;

    public static TrainingPlan Compute(PlanInputs inputs)
    {
        var config = inputs.Config;
        int pp = inputs.PipelineParallel, ep = inputs.ExpertParallel;
        if (inputs.Gpus < 1 || pp < 1 || inputs.Gpus % pp != 0)
            throw new InvalidArgumentException($"--pp {pp}: must divide --gpus {inputs.Gpus}");
        int dp = inputs.Gpus / pp;
        if (ep < 1 || dp % ep != 0)
            throw new InvalidArgumentException($"--ep {ep}: must divide the {dp} data-parallel GPUs of each pipeline stage (--gpus / --pp)");
        if (ep > 1 && config.NRoutedExperts % ep != 0)
            throw new InvalidArgumentException($"--ep {ep}: n_routed_experts {config.NRoutedExperts} must divide evenly");
        if (inputs.GlobalBatch % dp != 0)
            throw new InvalidArgumentException($"--global-batch {inputs.GlobalBatch}: must divide over the {dp} data-parallel pipelines");
        int sequencesPerPipeline = inputs.GlobalBatch / dp;
        int microBatches = inputs.MicroBatches ?? sequencesPerPipeline;
        if (microBatches < 1 || sequencesPerPipeline % microBatches != 0)
            throw new InvalidArgumentException(
                $"--micro-batches {microBatches}: must divide the {sequencesPerPipeline} sequences each pipeline gets per step (--global-batch / data parallel)");
        var schedule = PipelineSchedule.Build(ScheduleKind.DualPipe, pp, microBatches);
        var simulation = ScheduleSimulation.Run(schedule, PipelineCosts.Default);
        int sequencesPerMicroBatch = sequencesPerPipeline / microBatches;

        var size = new ModelSize(config);
        int mtp = config.NumNextnPredictLayers;
        double flopsPerToken = Training.Metrics.TrainingFlops.PerToken(config, inputs.SequenceLength, mtp);
        double attentionFlops = (config.NumHiddenLayers + mtp) * Training.Metrics.TrainingFlops.AttentionPerLayer(config, inputs.SequenceLength);
        double tokensPerStep = (double)inputs.GlobalBatch * inputs.SequenceLength;

        int nodesPerToken = Math.Max(1, Math.Min(config.TopkGroup, ep / inputs.GpusPerNode));
        // Per MoE layer and token: to each node, the FP8 dispatch (plus one FP32 scale per 128 values) and the BF16
        // combine, forward, and the same again backward (gradients dispatched in FP8, combined in BF16; report §3.3.2).
        double d = config.HiddenSize;
        double perTokenLayer = nodesPerToken * 2 * ((d + 4 * d / 128) + 2 * d);
        int moeLayers = Enumerable.Range(0, config.NumHiddenLayers).Count(config.IsMoeLayer) + (config.IsMoeLayer(config.NumHiddenLayers) ? mtp : 0);
        double allToAllPerGpu = tokensPerStep * moeLayers * perTokenLayer / inputs.Gpus;

        double reportGpuSecondsPerToken = ReportGpuHoursPerTrillionTokens * 3600 / 1e12;
        double implied = flopsPerToken / reportGpuSecondsPerToken;
        return new TrainingPlan(
            inputs, dp, dp / ep, nodesPerToken, microBatches, sequencesPerMicroBatch, tokensPerStep, inputs.Tokens / tokensPerStep,
            size.TotalParameters + size.MtpParameters, size.ActivatedParameters, size.MtpParameters,
            flopsPerToken, attentionFlops, flopsPerToken * inputs.Tokens,
            WorstGpuMemory(inputs, schedule, simulation, dp, sequencesPerMicroBatch),
            perTokenLayer, allToAllPerGpu, allToAllPerGpu / InfiniBandBytesPerSecond,
            simulation.Bubble, simulation.Bubble / simulation.TotalTime,
            inputs.Mfu is double mfu ? flopsPerToken * inputs.Tokens / (mfu * H800PeakBf16) / 3600 : null,
            ReportGpuHoursPerTrillionTokens * inputs.Tokens / 1e12, reportGpuSecondsPerToken * tokensPerStep / inputs.Gpus,
            implied / H800PeakBf16, implied / H800PeakFp8);
    }

    // Parameters each rank holds (both stage copies under DualPipe), routed experts sharded EP ways; ZeRO-1 shards the
    // optimizer state of each parameter over every GPU that holds it (data-parallel replicas × stage copies).
    private static GpuMemory WorstGpuMemory(PlanInputs inputs, PipelineSchedule schedule, ScheduleSimulation simulation, int dp, int sequencesPerMicroBatch)
    {
        var config = inputs.Config;
        var size = new ModelSize(config);
        int ep = inputs.ExpertParallel, copies = schedule.Layout.ParameterCopies;
        double tokensPerMicroBatch = (double)sequencesPerMicroBatch * inputs.SequenceLength;
        GpuMemory? worst = null;
        for (int rank = 0; rank < schedule.Ranks; rank++)
        {
            double dense = 0, experts = 0, heaviestStage = 0;
            foreach (var stage in schedule.Layout.ModulesOf(rank, config))
            {
                var blocks = stage.Layers.Concat(Enumerable.Repeat(config.NumHiddenLayers, stage.MtpModules)).ToList();
                experts += blocks.Sum(l => (double)size.RoutedExpertParameters(l)) / ep;
                dense += blocks.Sum(l => (double)size.LayerParameters(l) - size.RoutedExpertParameters(l));
                dense += stage.MtpModules * (3.0 * config.HiddenSize + 2.0 * config.HiddenSize * config.HiddenSize);
                if (stage.HoldsEmbedding) dense += (double)config.VocabSize * config.HiddenSize;
                if (stage.HoldsHead) dense += (double)config.VocabSize * config.HiddenSize + config.HiddenSize;
                heaviestStage = Math.Max(heaviestStage, blocks.Sum(l => ActivationMemory.BytesPerTokenPerLayer(config, l)));
            }
            double parameters = dense + experts;
            double optimizer = 8 * (dense / (dp * copies) + experts / (dp / ep * copies));
            int peak = simulation.Ranks[rank].PeakActivations;
            var memory = new GpuMemory(rank, parameters, experts, 2 * parameters, 4 * parameters, optimizer, peak,
                peak * tokensPerMicroBatch * heaviestStage);
            if (worst is null || memory.TotalBytes > worst.TotalBytes) worst = memory;
        }
        return worst!;
    }
}
