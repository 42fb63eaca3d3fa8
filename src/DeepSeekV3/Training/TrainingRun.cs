using System.Diagnostics;
using System.Globalization;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using static TorchSharp.torch;

namespace DeepSeekV3.Training;

/// <summary>
/// Runs a pre-training job end to end: tokenize (or reuse shards), pack, build or resume the model, train with
/// periodic validation and checkpoints, write metrics.jsonl, the final model (OUT/model) and plots (OUT/plots).
/// Progress goes to <c>log</c> as plain lines.
/// </summary>
public static class TrainingRun
{
    public const string FinalModelFolder = "model";
    public const string PlotsFolder = "plots";

    public static RunSummary Execute(RunOptions options, ITokenEncoder encoder, TextWriter log, CancellationToken cancel = default)
    {
        string output = options.OutputDirectory;
        CheckOutputDirectory(output, options.Resume);
        // The inputs are read and checked before anything is written into the run directory, so a bad --data
        // leaves an existing run as it was.
        using var shards = TokenShardSet.Open(options.DataPaths, encoder, options.TokenCache, new LogProgress(log), out bool reused);
        log.WriteLine($"data: {shards.Count:N0} documents, {shards.TotalTokens:N0} tokens ({(reused ? "cached" : "tokenized")}: {shards.Directory})");
        var data = PackedDataset.Build(shards, encoder, options.Data);
        log.WriteLine($"packed: {data.TrainWindows:N0} train windows, {data.ValidationWindows:N0} validation windows of {data.SequenceLength + 1} tokens " +
                      $"({ValidationSource(data, options.Data.ValidationFraction)})");
        Directory.CreateDirectory(output);
        TrainingCheckpoint.CleanUpInterrupted(output);

        var (model, optimizer, state) = StartOrResume(options, encoder, log);
        using var _ = model;
        double peak = options.MeasurePeak ? TrainingFlops.MeasurePeakMatmul() : 0;
        if (peak > 0) log.WriteLine($"peak fp32 matmul: {peak / 1e9:F1} GFLOP/s (measured now, {get_num_threads()} threads)");

        using var trainer = new Trainer(model, data, options.Trainer, optimizer, state, peak);
        using var metrics = new MetricsLog(output, trainer.State.Step);
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
                    trainer.PeakFlops = Math.Max(trainer.PeakFlops, TrainingFlops.MeasurePeakMatmul());
            }
            metrics.Write(step);
            last = step;
            if (step.Skipped)
                log.WriteLine($"step {step.Step}: non-finite loss or gradient (loss {step.TotalLoss}, grad norm {step.GradNorm}); skipped ({step.SkippedTotal} so far)");
            if (final || step.Step % Math.Max(1, options.LogEvery) == 0)
                log.WriteLine(ProgressLine(step, opts.Steps, startStep, clock.Elapsed));
            if (!final && opts.SaveEvery > 0 && step.Step % opts.SaveEvery == 0)
                trainer.SaveCheckpoint(output);
        }
        string? latest = TrainingCheckpoint.Latest(output);
        if (latest is null || Path.GetFileName(latest) != $"step-{trainer.State.Step:D8}")
            trainer.SaveCheckpoint(output);                                                 // never rewrite the newest one
        string modelDir = Path.Combine(output, FinalModelFolder);
        ModelCheckpoint.Save(model, modelDir, new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32 });
        log.WriteLine($"saved {modelDir} and checkpoint step-{trainer.State.Step:D8}");

        IReadOnlyList<string> plots = [];
        if (options.Plots)
        {
            plots = TrainingPlots.Write(MetricsLog.Read(metrics.Path), Path.Combine(output, PlotsFolder));
            log.WriteLine($"plots: {string.Join(", ", plots.Select(Path.GetFileName))}");
        }
        var all = MetricsLog.Read(metrics.Path);
        var recent = all.Skip(Math.Max(0, all.Count - 20)).ToList();
        return new RunSummary(trainer.State.Step, trainer.State.SkippedSteps, last?.Loss ?? double.NaN, validation,
            last?.MaxVio ?? double.NaN, recent.Count == 0 ? 0 : recent.Average(m => m.TokensPerSecond),
            recent.Count == 0 ? 0 : recent.Average(m => m.Mfu), peak, modelDir, metrics.Path, plots);
    }

    private static (DeepSeekV3ForCausalLM, Optimization.AdamW?, TrainerState?) StartOrResume(RunOptions options, ITokenEncoder encoder, TextWriter log)
    {
        if (options.Resume && TrainingCheckpoint.Latest(options.OutputDirectory) is { } checkpoint)
        {
            var (model, optimizer, state) = TrainingCheckpoint.Load(checkpoint, CPU, m => Optimization.AdamW.For(m, options.Trainer.Adam));
            log.WriteLine($"resuming from {checkpoint} (step {state.Step}, {state.TokensSeen:N0} tokens seen)");
            CheckVocabulary(model.Config.VocabSize, encoder);
            return (model, optimizer, state);
        }
        if (options.Resume)
            log.WriteLine($"--resume: no checkpoint in {options.OutputDirectory}; starting from scratch");
        var config = options.Config ?? throw new InvalidArgumentException("give --preset NAME or --config FILE");
        CheckVocabulary(config.VocabSize, encoder);
        var fresh = new DeepSeekV3ForCausalLM(config);
        WeightInitializer.Initialize(fresh, options.Trainer.Seed, config.InitializerRange);
        log.WriteLine($"model: {ModelSummary.Count(fresh.ParameterCount)} parameters " +
                      $"({ModelSummary.Count(new ModelSize(config).ActivatedParameters)} activated per token in the main model), " +
                      $"init std {config.InitializerRange}");
        return (fresh, null, null);
    }

    /// <summary>--out must be a directory (or not exist yet); a fresh start must not overwrite another run's
    /// checkpoints and metrics (as HF's run_clm refuses a non-empty output_dir without resume or overwrite).</summary>
    private static void CheckOutputDirectory(string output, bool resume)
    {
        if (File.Exists(output))
            throw new InvalidArgumentException($"--out \"{output}\": is a file; expected a run directory (new or existing)");
        if (!resume && TrainingCheckpoint.Latest(output) is { } checkpoint)
            throw new InvalidArgumentException(
                $"--out \"{output}\" already holds a run ({Path.GetFileName(checkpoint)}): add --resume to continue it, or choose another --out");
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
        return string.Create(CultureInfo.InvariantCulture,
            $"step {m.Step}/{totalSteps} loss {m.Loss:F4} mtp {m.MtpLoss:F4}{val} lr {m.LearningRate:0.00e+00} " +
            $"batch {m.BatchSequences} tok/s {m.TokensPerSecond:F0} MFU {m.Mfu * 100:F2}% maxvio {m.MaxVio:F3} " +
            $"ETA {eta:hh\\:mm\\:ss}");
    }

    private sealed class LogProgress(TextWriter log) : IProgress<TokenizationProgress>
    {
        public void Report(TokenizationProgress p) => log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tokenizing: {p.BytesRead / 1e6:F1}/{p.BytesTotal / 1e6:F1} MB, {p.Tokens:N0} tokens, {p.MegabytesPerSecond:F2} MB/s"));
    }
}
