using System.Diagnostics;
using System.Globalization;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed;
using DeepSeekV3.Distributed.Pipeline;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Pipeline;
using static TorchSharp.torch;

namespace DeepSeekV3.Training;

/// <summary>
/// Runs a pre-training job end to end: tokenize (or reuse shards), pack, build or resume the model, train with
/// periodic validation and checkpoints, write metrics.jsonl, the final model (OUT/model) and plots (OUT/plots).
/// Progress goes to <c>log</c> as plain lines. Under data/expert parallelism every rank runs this together; rank 0
/// alone tokenizes (the others then read its cache), logs, writes metrics and plots; checkpoints are written by all.
/// </summary>
public static class TrainingRun
{
    public const string FinalModelFolder = "model";
    public const string PlotsFolder = "plots";

    public static RunSummary Execute(RunOptions options, ITokenEncoder encoder, TextWriter log, CancellationToken cancel = default,
        ParallelContext? parallel = null)
    {
        using var single = parallel is null ? ParallelContext.Single() : null;
        var context = parallel ?? single!;
        var world = context.World;
        if (!context.IsMain) log = TextWriter.Null;
        string output = options.OutputDirectory;
        TrainingCheckpoint.CheckRunDirectory(output, options.Resume);
        // The inputs are read and checked before anything is written into the run directory, so a bad --data
        // leaves an existing run as it was. Rank 0 tokenizes; the others wait and find its token cache.
        if (!context.IsMain) world.Barrier();
        using var shards = TokenShardSet.Open(options.DataPaths, encoder, options.TokenCache, new LogProgress(log), out bool reused);
        if (context.IsMain) world.Barrier();
        log.WriteLine($"data: {shards.Count:N0} documents, {shards.TotalTokens:N0} tokens ({(reused ? "cached" : "tokenized")}: {shards.Directory})");
        var data = PackedDataset.Build(shards, encoder, options.Data);
        return Train(options, data, encoder, log, cancel, context);
    }

    /// <summary>
    /// Fine-tuning: the same run on data packed by the caller (e.g. <see cref="PackedDataset.Pack"/> of chat examples
    /// with a loss mask), from <see cref="RunOptions.InitialModel"/> or the newest checkpoint in the run directory.
    /// </summary>
    public static RunSummary Execute(RunOptions options, PackedDataset data, ITokenEncoder encoder, TextWriter log,
        CancellationToken cancel = default, ParallelContext? parallel = null)
    {
        using var single = parallel is null ? ParallelContext.Single() : null;
        var context = parallel ?? single!;
        if (!context.IsMain) log = TextWriter.Null;
        TrainingCheckpoint.CheckRunDirectory(options.OutputDirectory, options.Resume);
        return Train(options, data, encoder, log, cancel, context);
    }

    private static RunSummary Train(RunOptions options, PackedDataset data, ITokenEncoder encoder, TextWriter log,
        CancellationToken cancel, ParallelContext context)
    {
        var world = context.World;
        string output = options.OutputDirectory;
        log.WriteLine($"packed: {data.TrainWindows:N0} train windows, {data.ValidationWindows:N0} validation windows of {data.SequenceLength + 1} tokens " +
                      $"({ValidationSource(data, options.Data.ValidationFraction)})");
        if (context.IsMain)
        {
            Directory.CreateDirectory(output);
            TrainingCheckpoint.CleanUpInterrupted(output);
        }
        world.Barrier();
        if (world.Size > 1)
            log.WriteLine(context.PipelineParallel == 1
                ? $"parallel: {context.Layout} over {world.Description}"
                : $"parallel: {context.PipelineParallel} pipeline ranks × ({context.Layout} at each pipeline position) over {world.Description}");

        var (model, state, checkpoint, experts) = StartOrResume(options, encoder, log, context);
        using var _ = model;
        var pipelineMap = options.Schedule is { } kind ? new PipelineStageMap(kind, options.PipelineParallel, model.Config) : null;
        using var dataParallel = pipelineMap is null ? new DataParallel(model, context) : new DataParallel(model, context, pipelineMap);
        if (pipelineMap is not null)
            log.WriteLine($"pipeline: {PipelineSchedule.KindName(pipelineMap.Kind)} over {pipelineMap.Ranks} rank(s) per pipeline, {pipelineMap.Stages} stages of blocks " +
                          string.Join(" ", Enumerable.Range(0, pipelineMap.Stages).Select(s => $"[{pipelineMap.BlocksOf(s).From},{pipelineMap.BlocksOf(s).To})")) +
                          $", {world.Size / pipelineMap.Ranks} data-parallel replica(s)");
        var optimizer = new Optimization.AdamW(dataParallel.OptimizerSlices, options.Trainer.Adam);
        if (checkpoint is not null)
            TrainingCheckpoint.LoadOptimizer(checkpoint, optimizer, state!.OptimizerSteps);
        // Every rank measures its own share of the machine; the job's peak is their sum.
        var peakDtype = options.Trainer.PeakDtype;
        double peak = options.MeasurePeak ? TrainingFlops.MeasurePeakMatmul(dtype: peakDtype) * world.Size : 0;
        if (peak > 0) log.WriteLine($"peak {(peakDtype == ScalarType.BFloat16 ? "bf16" : "fp32")} matmul: {peak / 1e9:F1} GFLOP/s " +
                                    $"(measured now, {get_num_threads()} threads × {world.Size} ranks)");
        if (options.Trainer.Precision != Precision.TrainingPrecision.Float32)
            log.WriteLine($"precision: {PrecisionName(options.Trainer)}");

        using var trainer = new Trainer(model, data, options.Trainer, optimizer, state, peak, dataParallel)
        {
            ExpertCommunication = experts?.Timer,
            Pipeline = pipelineMap is null ? null
                : new PipelineSetup(pipelineMap, dataParallel.PipelineGroup!),
        };
        using var metrics = context.IsMain ? new MetricsLog(output, trainer.State.Step) : null;
        var opts = options.Trainer;
        var clock = Stopwatch.StartNew();
        long startStep = trainer.State.Step;
        StepMetrics? last = null;
        double? validation = null;
        while (trainer.State.Step < opts.Steps && !cancel.IsCancellationRequested)
        {
            var step = trainer.Step();
            bool final = step.Step == opts.Steps;
            if (final || (opts.EvalEvery > 0 && step.Step % opts.EvalEvery == 0))
            {
                step = step with { ValidationLoss = validation = trainer.Evaluate() };
                // Other processes share the cores: the peak seen so far is the fairest MFU denominator.
                if (options.MeasurePeak)
                    trainer.PeakFlops = Math.Max(trainer.PeakFlops, TrainingFlops.MeasurePeakMatmul(dtype: peakDtype) * world.Size);
            }
            metrics?.Write(step);
            last = step;
            if (step.Skipped)
                log.WriteLine($"step {step.Step}: non-finite loss or gradient (loss {step.TotalLoss}, grad norm {step.GradNorm}); skipped ({step.SkippedTotal} so far)");
            if (final || step.Step % Math.Max(1, options.LogEvery) == 0)
                log.WriteLine(ProgressLine(step, opts.Steps, startStep, clock.Elapsed));
            if (!final && opts.SaveEvery > 0 && step.Step % opts.SaveEvery == 0)
                trainer.SaveCheckpoint(output);
        }
        string? latest = TrainingCheckpoint.Latest(output);
        world.Barrier();                                                                    // all ranks saw the same newest one
        if (latest is null || Path.GetFileName(latest) != $"step-{trainer.State.Step:D8}")
            trainer.SaveCheckpoint(output);                                                 // never rewrite the newest one
        string modelDir = Path.Combine(output, FinalModelFolder);
        TrainingCheckpoint.SaveModel(model, modelDir, context, pipelineMap);
        log.WriteLine($"saved {modelDir} and checkpoint step-{trainer.State.Step:D8}");
        string metricsPath = Path.Combine(output, MetricsLog.FileName);
        if (!context.IsMain)
            return new RunSummary(trainer.State.Step, trainer.State.SkippedSteps, last?.Loss ?? double.NaN, validation,
                last?.MaxVio ?? double.NaN, 0, 0, peak, modelDir, metricsPath, []);

        IReadOnlyList<string> plots = [];
        if (options.Plots)
        {
            plots = TrainingPlots.Write(MetricsLog.Read(metrics!.Path), Path.Combine(output, PlotsFolder));
            log.WriteLine($"plots: {string.Join(", ", plots.Select(Path.GetFileName))}");
        }
        var all = MetricsLog.Read(metrics!.Path);
        var recent = all.Skip(Math.Max(0, all.Count - 20)).ToList();
        return new RunSummary(trainer.State.Step, trainer.State.SkippedSteps, last?.Loss ?? double.NaN, validation,
            last?.MaxVio ?? double.NaN, recent.Count == 0 ? 0 : recent.Average(m => m.TokensPerSecond),
            recent.Count == 0 ? 0 : recent.Average(m => m.Mfu), peak, modelDir, metrics.Path, plots);
    }

    /// <summary>The model (whole, then cut to this rank's experts), the state to resume and the checkpoint it
    /// comes from (null for a fresh start: every rank initializes the same weights from the same seed).</summary>
    private static (DeepSeekV3ForCausalLM, TrainerState?, string?, ExpertParallelExecutor?) StartOrResume(RunOptions options,
        ITokenEncoder encoder, TextWriter log, ParallelContext context)
    {
        if (options.Resume && TrainingCheckpoint.Latest(options.OutputDirectory) is { } checkpoint)
        {
            var state = TrainingCheckpoint.ReadState(checkpoint);
            var model = TrainingCheckpoint.LoadModel(checkpoint, CPU);
            log.WriteLine($"resuming from {checkpoint} (step {state.Step}, {state.TokensSeen:N0} tokens seen)");
            CheckVocabulary(model.Config.VocabSize, encoder);
            return (model, state, checkpoint, ShardExperts(model, context, options.OverlapExpertCommunication));
        }
        if (options.Resume)
            log.WriteLine($"--resume: no checkpoint in {options.OutputDirectory}; starting from scratch");
        if (options.InitialModel is { } initial)
        {
            var loaded = ModelCheckpoint.Load(initial);
            log.WriteLine($"model: {initial} ({ModelSummary.Count(loaded.ParameterCount)} parameters)");
            CheckVocabulary(loaded.Config.VocabSize, encoder);
            return (loaded, null, null, ShardExperts(loaded, context, options.OverlapExpertCommunication));
        }
        var config = options.Config ?? throw new InvalidArgumentException("give --preset NAME or --config FILE");
        CheckVocabulary(config.VocabSize, encoder);
        var fresh = new DeepSeekV3ForCausalLM(config);
        WeightInitializer.Initialize(fresh, options.Trainer.Seed, config.InitializerRange);
        log.WriteLine($"model: {ModelSummary.Count(fresh.ParameterCount)} parameters " +
                      $"({ModelSummary.Count(new ModelSize(config).ActivatedParameters)} activated per token in the main model), " +
                      $"init std {config.InitializerRange}");
        return (fresh, null, null, ShardExperts(fresh, context, options.OverlapExpertCommunication));
    }

    /// <summary>Under expert parallelism, keeps this rank's routed experts and routes tokens to the others'
    /// (null without it).</summary>
    private static ExpertParallelExecutor? ShardExperts(DeepSeekV3ForCausalLM model, ParallelContext context, bool overlap) =>
        context.Layout.ExpertParallel == 1 ? null : ExpertParallel.Shard(model, context, overlap);

    private static string PrecisionName(TrainerOptions options)
    {
        if (options.Precision != Precision.TrainingPrecision.Fp8)
            return "bf16 matmuls (fp32 master weights and gradients)";
        var recipe = options.Fp8;
        string gemm = recipe.Gemm is Precision.EmulatedFp8Gemm emulated
            ? $"emulated, {emulated.Accumulation.AccumulatorBits}-bit accumulator, promotion every " +
              (emulated.Accumulation.PromotionInterval == 0 ? "never" : $"{emulated.Accumulation.PromotionInterval}")
            : recipe.Gemm.GetType().Name;
        return $"fp8 e4m3 projections ({gemm}; 1x128 activation tiles, 128x128 weight blocks, " +
               $"{(recipe.Scaling.PowerOfTwo ? "ue8m0" : "fp32")} scales{(recipe.PowerOfTwoWhereReportDoes && !recipe.Scaling.PowerOfTwo ? ", ue8m0 where the report uses them" : "")}); " +
               "head and attention core bf16";
    }

    private static string ValidationSource(PackedDataset data, double fraction) => data switch
    {
        { ValidationWindows: 0 } when fraction <= 0 => "no validation data: --val-fraction 0; val_loss is not reported",
        { ValidationWindows: 0 } => "no validation data: the input is too small to hold out a window; val_loss is not reported",
        { ValidationFromTail: true } => $"validation: the last {data.ValidationTokens:N0} tokens of the stream, " +
                                        "as no held-out document fills a window",
        _ => $"{data.ValidationDocuments} validation documents",
    };

    private static void CheckVocabulary(int vocabSize, ITokenEncoder encoder)
    {
        if (vocabSize < encoder.VocabSize)
            throw new InvalidArgumentException(
                $"the model's vocab_size {vocabSize} is smaller than the tokenizer's {encoder.VocabSize} ({encoder.Name})");
    }

    private static string ProgressLine(StepMetrics m, int totalSteps, long startStep, TimeSpan elapsed)
    {
        double perStep = elapsed.TotalSeconds / Math.Max(1, m.Step - startStep);
        var eta = TimeSpan.FromSeconds(perStep * (totalSteps - m.Step));
        string val = m.ValidationLoss is double v ? $" val {v:F4}" : "";
        string ranks = m.Ranks > 1
            ? string.Create(CultureInfo.InvariantCulture, $" ranks {m.Ranks} comm {m.CommunicationSeconds:F2}s ({m.CommunicationSeconds / Math.Max(1e-9, m.Seconds) * 100:F0}%)")
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"step {m.Step}/{totalSteps} loss {m.Loss:F4} mtp {m.MtpLoss:F4}{val} lr {m.LearningRate:0.00e+00} " +
            $"batch {m.BatchSequences} tok/s {m.TokensPerSecond:F0} MFU {m.Mfu * 100:F2}% maxvio {m.MaxVio:F3}{ranks} " +
            $"ETA {eta:hh\\:mm\\:ss}");
    }

    private sealed class LogProgress(TextWriter log) : IProgress<TokenizationProgress>
    {
        public void Report(TokenizationProgress p) => log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tokenizing: {p.BytesRead / 1e6:F1}/{p.BytesTotal / 1e6:F1} MB, {p.Tokens:N0} tokens, {p.MegabytesPerSecond:F2} MB/s"));
    }
}
