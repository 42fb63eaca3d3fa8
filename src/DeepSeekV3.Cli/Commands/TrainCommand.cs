using System.CommandLine;
using System.Globalization;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Objectives;
using DeepSeekV3.Training.Optimization;
using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 train`: pre-train a model the way the DeepSeek-V3 report does (MTP, aux-loss-free balancing,
/// AdamW, report-shaped schedules), with checkpoints, resume, metrics.jsonl and plots.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = $"Model to create: one of {string.Join(", ", Configuration.ModelPresets.Names)}" };
        var config = new Option<string?>("--config") { Description = "A config.json to create the model from instead of a preset" };
        var data = new Option<string[]>("--data") { Description = "UTF-8 text files (one document each), directories or .jsonl files (string field \"text\"); repeatable", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out", "-o") { Description = "Run directory: checkpoints/, model/, metrics.jsonl, plots/", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps in total (with --resume: continue up to this step)", DefaultValueFactory = _ => 1000 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per sequence T", DefaultValueFactory = _ => 256 };
        var batchTokens = new Option<int>("--batch-tokens") { Description = "Tokens per optimizer step after the batch ramp (rounded to whole sequences)", DefaultValueFactory = _ => 8192 };
        var microBatch = new Option<int>("--micro-batch") { Description = "Sequences per forward/backward (gradient accumulation over the rest)", DefaultValueFactory = _ => 8 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (report: 2.2e-4 at 671B; small models take more)", DefaultValueFactory = _ => 1e-3 };
        var warmup = new Option<int?>("--warmup") { Description = "Warm-up steps (default: 5% of --steps, at most 2000)" };
        var seed = new Option<long>("--seed") { Description = "Seed for initialization, data order, FIM and the validation split", DefaultValueFactory = _ => 0 };
        var saveEvery = new Option<int>("--save-every") { Description = "Checkpoint every N steps (0: only at the end)", DefaultValueFactory = _ => 0 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep", DefaultValueFactory = _ => 3 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out" };
        var balance = new Option<string>("--balance") { Description = "aux-free (bias updates + α=0.0001 sequence-wise loss) or aux-loss (classic auxiliary loss, no bias updates)", DefaultValueFactory = _ => "aux-free" };
        var auxAlpha = new Option<double>("--aux-alpha") { Description = "α of the aux-loss baseline", DefaultValueFactory = _ => 0.001 };
        var biasSpeed = new Option<double>("--bias-speed") { Description = "γ of the aux-free bias update (report 0.001; 0 after 14.3/14.8 of the run)", DefaultValueFactory = _ => 0.001 };
        var mtpDepth = new Option<int?>("--mtp-depth") { Description = "MTP modules D (default: the config's num_nextn_predict_layers; 0 disables the MTP loss)" };
        var recompute = new Option<string>("--recompute") { Description = "none, norm-mla (attention sub-layers) or block (whole blocks) recomputed in backward", DefaultValueFactory = _ => "none" };
        var evalEvery = new Option<int>("--eval-every") { Description = "Validation loss every N steps (0: only at the end)", DefaultValueFactory = _ => 100 };
        var evalWindows = new Option<int>("--eval-windows") { Description = "Validation windows per evaluation", DefaultValueFactory = _ => 16 };
        var valFraction = new Option<double>("--val-fraction") { Description = "Share held out for validation: whole documents (seeded draw), or, when no held-out document fills a window (e.g. one text file), the last share of the token stream; 0: no validation", DefaultValueFactory = _ => 0.02 };
        var fimRate = new Option<double>("--fim-rate") { Description = "Share of documents rearranged in PSM fill-in-the-middle form", DefaultValueFactory = _ => 0.1 };
        var moments = new Option<string?>("--moments") { Description = "AdamW moment storage: f32 or bf16 (report; default bf16 with --precision bf16/fp8, else f32)" };
        var precision = new Option<string>("--precision") { Description = "Matmul precision: fp32, bf16 (bf16 matmuls, fp32 master weights and gradients) or fp8 (the report's FP8 recipe on an emulated FP8 GEMM)", DefaultValueFactory = _ => "fp32" };
        var fp8Promotion = new Option<int>("--fp8-promotion") { Description = "FP8: elements of K between promotions of the ~14-bit tensor-core accumulator to FP32 (N_C; 0: never)", DefaultValueFactory = _ => 128 };
        var fp8Scales = new Option<string>("--fp8-scales") { Description = "FP8 scales: report (FP32, power-of-2 where the report uses them), fp32 (everywhere) or ue8m0 (power-of-2 everywhere)", DefaultValueFactory = _ => "report" };
        var noRamp = new Option<bool>("--no-batch-ramp") { Description = "Use the full batch from step 1" };
        var tokenizer = new Option<string>("--tokenizer") { Description = "\"bytes\" (UTF-8 bytes + EOS/FIM ids 256-259) or a byte-level BPE tokenizer.json / directory (copied beside the model)", DefaultValueFactory = _ => "bytes" };
        var tokenCache = new Option<string>("--token-cache") { Description = "Folder for cached token shards", DefaultValueFactory = _ => Path.Combine(".data", "tokens") };
        // One thread by default: on a shared machine libgomp's spinning worker threads made steps many times slower
        // (README, Training). More threads pay off with OMP_WAIT_POLICY=PASSIVE or idle cores.
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: library default; >1 best with OMP_WAIT_POLICY=PASSIVE)", DefaultValueFactory = _ => 1 };
        var logEvery = new Option<int>("--log-every") { Description = "Progress line every N steps", DefaultValueFactory = _ => 10 };
        var noPlots = new Option<bool>("--no-plots") { Description = "Skip the PNG plots at the end" };
        var ep = new Option<int>("--ep") { Description = "Expert-parallel degree E under mpiexec: routed experts sharded over groups of E ranks (data-parallel degree of the experts: ranks / E)", DefaultValueFactory = _ => 1 };
        var noOverlap = new Option<bool>("--no-overlap") { Description = "Expert parallelism: one micro-batch per MoE layer with blocking all-to-all instead of two in flight (to measure what the overlap hides)" };
        var pp = new Option<int>("--pp") { Description = "Pipeline-parallel degree P under mpiexec: the model's stages over groups of P consecutive ranks (data-parallel degree: ranks / P)", DefaultValueFactory = _ => 1 };
        var schedule = new Option<string?>("--schedule") { Description = "Pipeline schedule: 1f1b, dualpipe or dualpipev (default with --pp > 1: 1f1b)" };
        var ranksPerNode = new Option<int?>("--ranks-per-node") { Description = "Ranks per node for node-limited routing (default: --ep, one node)" };

        var command = new Command("train", "Pre-train a model: MTP, auxiliary-loss-free balancing, AdamW, report-shaped schedules")
        {
            preset, config, data, output, steps, seqLen, batchTokens, microBatch, lr, warmup, seed, saveEvery, keep, resume,
            balance, auxAlpha, biasSpeed, mtpDepth, recompute, evalEvery, evalWindows, valFraction, fimRate, moments, precision, fp8Promotion, fp8Scales, noRamp, tokenizer, tokenCache,
            threads, logEvery, noPlots, ep, ranksPerNode, noOverlap, pp, schedule,
        };
        command.SetAction(result =>
        {
            // Under mpiexec every rank runs this; an error on one ends them all (FailFast), and rank 0 prints.
            using var world = Distributed.Communicators.FromEnvironment();
            bool verbose = result.GetValue<bool>("--verbose") || Environment.GetEnvironmentVariable(CliApp.VerboseVariable) is "1" or "true";
            return Distributed.FailFast.Run(world, () =>
            {
                using var parallel = new Distributed.ParallelContext(world, result.GetValue(ep), result.GetValue(ranksPerNode), result.GetValue(pp));
                return Train(result, parallel);
            }, result.InvocationConfiguration.Error, verbose);
        });
        return command;

        int Train(ParseResult result, Distributed.ParallelContext parallel)
        {
            var writer = parallel.IsMain ? result.InvocationConfiguration.Output : TextWriter.Null;
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            bool resuming = result.GetValue(resume);
            string? presetName = result.GetValue(preset), configPath = result.GetValue(config);
            var modelConfig = resuming && presetName is null && configPath is null ? null : InitCommand.ResolveConfig(presetName, configPath);
            int? depth = result.GetValue(mtpDepth);
            if (modelConfig is not null && depth > modelConfig.NumNextnPredictLayers)
                modelConfig = modelConfig with { NumNextnPredictLayers = depth.Value };
            int sequenceLength = result.GetValue(seqLen);
            var balanceMode = ParseBalance(result.GetValue(balance)!);
            var matmuls = ParsePrecision(result.GetValue(precision)!);
            string? momentDtype = result.GetValue(moments);
            var options = new RunOptions
            {
                OutputDirectory = result.GetValue(output)!,
                DataPaths = result.GetValue(data)!,
                TokenCache = result.GetValue(tokenCache)!,
                Config = modelConfig,
                Resume = resuming,
                LogEvery = result.GetValue(logEvery),
                Plots = !result.GetValue(noPlots),
                OverlapExpertCommunication = !result.GetValue(noOverlap),
                PipelineParallel = result.GetValue(pp),
                Schedule = ParseSchedule(result.GetValue(schedule), result.GetValue(pp)),
                Data = new DataOptions
                {
                    SequenceLength = sequenceLength,
                    FimRate = result.GetValue(fimRate),
                    ValidationFraction = result.GetValue(valFraction),
                    Seed = result.GetValue(seed),
                },
                Trainer = new TrainerOptions
                {
                    Steps = result.GetValue(steps),
                    BatchSequences = Math.Max(1, result.GetValue(batchTokens) / sequenceLength),
                    MicroBatchSequences = Math.Max(1, result.GetValue(microBatch)),
                    BatchRamp = !result.GetValue(noRamp),
                    PeakLearningRate = result.GetValue(lr),
                    WarmupSteps = result.GetValue(warmup),
                    Seed = result.GetValue(seed),
                    SaveEvery = result.GetValue(saveEvery),
                    KeepLast = result.GetValue(keep),
                    EvalEvery = result.GetValue(evalEvery),
                    EvalWindows = result.GetValue(evalWindows),
                    BiasUpdateSpeed = result.GetValue(biasSpeed),
                    Adam = new AdamWOptions { MomentDtype = momentDtype is null ? matmuls.MomentDtype() : TensorSettings.ParseDtype(momentDtype) },
                    Precision = matmuls,
                    Fp8 = ParseFp8(result.GetValue(fp8Promotion), result.GetValue(fp8Scales)!),
                    Objective = new ObjectiveOptions
                    {
                        MtpDepth = depth,
                        Balance = balanceMode,
                        AuxLossAlpha = result.GetValue(auxAlpha),
                        Recompute = ParseRecompute(result.GetValue(recompute)!),
                    },
                },
            };
            var summary = TrainingRun.Execute(options, ResolveTokenizer(result.GetValue(tokenizer)!), writer, parallel: parallel);
            if (!parallel.IsMain) return 0;
            CopyTokenizer(result.GetValue(tokenizer)!, summary.ModelDirectory);
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: {summary.Steps} steps ({summary.SkippedSteps} skipped), loss {summary.FinalLoss:F4}, val {(summary.ValidationLoss is double v ? v.ToString("F4", CultureInfo.InvariantCulture) : "none")}, " +
                $"max_vio {summary.MaxVio:F3}, {summary.TokensPerSecond:F0} tok/s, MFU {summary.Mfu * 100:F2}%; model: {summary.ModelDirectory}"));
            return 0;
        }
    }

    /// <summary>"bytes", or a byte-level BPE tokenizer: a tokenizer.json or a directory holding one.</summary>
    internal static ITokenEncoder ResolveTokenizer(string name) => name switch
    {
        "bytes" => new ByteTokenEncoder(),
        _ when File.Exists(name) || Directory.Exists(name) => BpeTokenEncoder.Load(name),
        _ => throw new InvalidArgumentException($"--tokenizer \"{name}\": expected \"bytes\" or a tokenizer.json / tokenizer directory"),
    };

    /// <summary>Puts the tokenizer files beside the trained model, so `generate --model DIR` finds them.</summary>
    internal static void CopyTokenizer(string name, string modelDirectory)
    {
        if (name != "bytes") TokenizerFiles.CopyTo(name, modelDirectory);
    }

    internal static BalanceMode ParseBalance(string value) => value.ToLowerInvariant() switch
    {
        "aux-free" or "auxfree" => BalanceMode.AuxFree,
        "aux-loss" or "auxloss" => BalanceMode.AuxLoss,
        _ => throw new InvalidArgumentException($"--balance \"{value}\": expected aux-free or aux-loss"),
    };

    /// <summary>The pipeline schedule of --schedule with --pp <paramref name="pipelineRanks"/> (null: no pipeline); the
    /// parallel context has already checked that --pp divides the job's ranks.</summary>
    internal static ScheduleKind? ParseSchedule(string? value, int pipelineRanks) =>
        value is null ? pipelineRanks > 1 ? ScheduleKind.OneFOneB : null : PipelineSchedule.ParseKind(value);

    internal static TrainingPrecision ParsePrecision(string value) => value.ToLowerInvariant() switch
    {
        "fp32" or "f32" => TrainingPrecision.Float32,
        "bf16" => TrainingPrecision.BFloat16,
        "fp8" => TrainingPrecision.Fp8,
        _ => throw new InvalidArgumentException($"--precision \"{value}\": expected fp32, bf16 or fp8"),
    };

    /// <summary>The FP8 recipe of --fp8-promotion and --fp8-scales (checked even when --precision is not fp8).</summary>
    internal static Fp8Recipe ParseFp8(int promotion, string scales)
    {
        var accumulation = new Fp8Accumulation { PromotionInterval = promotion };
        try { accumulation.Validate(); }
        catch (QuantizationException e) { throw new InvalidArgumentException($"--fp8-promotion {promotion}: {e.Message}"); }
        return scales.ToLowerInvariant() switch
        {
            "report" => new Fp8Recipe { Gemm = new EmulatedFp8Gemm(accumulation) },
            "fp32" => new Fp8Recipe { Gemm = new EmulatedFp8Gemm(accumulation), PowerOfTwoWhereReportDoes = false },
            "ue8m0" => new Fp8Recipe { Gemm = new EmulatedFp8Gemm(accumulation), Scaling = Fp8Scaling.PowerOfTwoScales },
            _ => throw new InvalidArgumentException($"--fp8-scales \"{scales}\": expected report, fp32 or ue8m0"),
        };
    }

    internal static RecomputeMode ParseRecompute(string value) => value.ToLowerInvariant() switch
    {
        "none" => RecomputeMode.None,
        "norm-mla" => RecomputeMode.NormMla,
        "block" => RecomputeMode.Block,
        _ => throw new InvalidArgumentException($"--recompute \"{value}\": expected none, norm-mla or block"),
    };
}
