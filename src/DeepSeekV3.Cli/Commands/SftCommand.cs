using System.CommandLine;
using System.Globalization;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Objectives;
using DeepSeekV3.Training.Optimization;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 sft`: supervised fine-tuning on chat-format JSONL (report §5.1): conversations rendered with the
/// model's chat template, the loss on assistant tokens only, examples packed into windows, cosine learning-rate
/// decay; the same trainer, checkpoints and resume as `dsv3 train`. With --mix-pretrain, windows of pre-training text
/// are replayed among the conversations (plain LM loss on all their tokens) to keep what pre-training taught.</summary>
internal static class SftCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model(required: true);
        var data = new Option<string>("--data") { Description = "Chat JSONL: {\"messages\": [{\"role\": \"user\"|\"assistant\"|\"system\"|\"tool\", \"content\": \"…\"}, …]} per line", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Run directory: checkpoints/, model/, metrics.jsonl, plots/", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps in total (with --resume: continue up to this step)", DefaultValueFactory = _ => 200 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per packed window T", DefaultValueFactory = _ => 256 };
        var batchTokens = new Option<int>("--batch-tokens") { Description = "Tokens per optimizer step (rounded to whole windows)", DefaultValueFactory = _ => 2048 };
        var microBatch = new Option<int>("--micro-batch") { Description = "Windows per forward/backward", DefaultValueFactory = _ => 8 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate after warm-up (report: 5e-6 at 671B; a small model takes more)", DefaultValueFactory = _ => 1e-4 };
        var finalLr = new Option<double?>("--final-lr") { Description = "Learning rate at the last step, reached by cosine decay (default: --lr / 5, the report's ratio)" };
        var warmup = new Option<int?>("--warmup") { Description = "Warm-up steps (default: 5% of --steps)" };
        var seed = new Option<long>("--seed") { Description = "Data order and validation split", DefaultValueFactory = _ => 0 };
        var saveEvery = new Option<int>("--save-every") { Description = "Checkpoint every N steps (0: only at the end)", DefaultValueFactory = _ => 0 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep", DefaultValueFactory = _ => 3 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out" };
        var valFraction = new Option<double>("--val-fraction") { Description = "Share of conversations held out for validation", DefaultValueFactory = _ => 0.05 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Validation loss every N steps (0: only at the end)", DefaultValueFactory = _ => 50 };
        var mtpDepth = new Option<int?>("--mtp-depth") { Description = "MTP modules trained alongside (default: all the model has; 0: none)" };
        var biasSpeed = new Option<double>("--bias-speed") { Description = "γ of the aux-free bias update during fine-tuning (0: routing biases stay as pre-trained)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: library default)", DefaultValueFactory = _ => 1 };
        var logEvery = new Option<int>("--log-every") { Description = "Progress line every N steps", DefaultValueFactory = _ => 10 };
        var noPlots = new Option<bool>("--no-plots") { Description = "Skip the PNG plots at the end" };
        var mixPretrain = new Option<string[]>("--mix-pretrain") { Description = "Pre-training text replayed during fine-tuning, as `dsv3 train --data` reads it (text files, directories, .jsonl with \"text\"); repeatable", AllowMultipleArgumentsPerToken = true };
        var mixRatio = new Option<double>("--mix-ratio") { Description = "Share of training windows that are pre-training windows (with --mix-pretrain; Megatron-style blend by samples)", DefaultValueFactory = _ => 0.25 };
        var tokenCache = new Option<string>("--token-cache") { Description = "Folder for cached token shards of --mix-pretrain", DefaultValueFactory = _ => Path.Combine(".data", "tokens") };
        var command = new Command("sft", "Supervised fine-tuning on chat JSONL: loss on assistant tokens only, packed, resumable")
        {
            model, data, output, steps, seqLen, batchTokens, microBatch, lr, finalLr, warmup, seed, saveEvery, keep, resume,
            valFraction, evalEvery, mtpDepth, biasSpeed, threads, logEvery, noPlots, mixPretrain, mixRatio, tokenCache,
        };
        command.SetAction(result =>
        {
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            string modelDir = result.GetValue(model)!;
            var writer = result.InvocationConfiguration.Output;
            var tokenizer = ByteLevelBpeTokenizer.Load(modelDir);
            var examples = ChatExamples.Load(result.GetValue(data)!, tokenizer);
            int sequenceLength = result.GetValue(seqLen), total = result.GetValue(steps);
            var dataOptions = new DataOptions { SequenceLength = sequenceLength, FimRate = 0, ValidationFraction = result.GetValue(valFraction), Seed = result.GetValue(seed) };
            var packed = PackedDataset.Pack(examples, dataOptions);
            if (result.GetValue(mixRatio) is not (>= 0 and < 1))
                throw new InvalidArgumentException($"--mix-ratio {result.GetValue(mixRatio)}: expected a share in [0, 1)");
            writer.WriteLine($"data: {examples.Count:N0} conversations, {examples.Sum(e => (long)e.Tokens.Length):N0} tokens, " +
                             $"{examples.Sum(e => (long)e.TrainedTokens):N0} of them assistant tokens (trained)");
            var encoder = new BpeTokenEncoder(tokenizer, modelDir);
            if (result.GetValue(mixPretrain) is { Length: > 0 } mixFiles)
            {
                // The pre-training text packed as `dsv3 train` packs it with the same seed (its validation documents
                // stay out), without FIM: replay is plain next-token text.
                using var shards = TokenShardSet.Open(mixFiles, encoder, result.GetValue(tokenCache)!, null, out _);
                var pretraining = PackedDataset.Build(shards, encoder, new DataOptions { SequenceLength = sequenceLength, FimRate = 0, Seed = dataOptions.Seed });
                double ratio = result.GetValue(mixRatio);
                packed = packed.MixPretraining(pretraining, ratio, dataOptions.Seed);
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"mix: {packed.MixedWindows:N0} pre-training windows of {sequenceLength + 1} tokens from {string.Join(", ", mixFiles)} " +
                    $"({shards.TotalTokens:N0} tokens) among {packed.TrainWindows:N0} training windows (ratio {ratio})"));
            }
            double peak = result.GetValue(lr);
            int warmupSteps = result.GetValue(warmup) ?? Math.Max(1, total / 20);
            double depthLambda = 0.1;                                                     // the report's late-training MTP weight
            var options = new RunOptions
            {
                OutputDirectory = result.GetValue(output)!,
                InitialModel = modelDir,
                Resume = result.GetValue(resume),
                LogEvery = result.GetValue(logEvery),
                Plots = !result.GetValue(noPlots),
                MeasurePeak = false,
                Data = dataOptions,
                Trainer = new TrainerOptions
                {
                    Steps = total,
                    BatchSequences = Math.Max(1, result.GetValue(batchTokens) / sequenceLength),
                    MicroBatchSequences = Math.Max(1, result.GetValue(microBatch)),
                    BatchRamp = false,
                    PeakLearningRate = peak,
                    Schedule = LearningRateSchedule.Cosine(peak, result.GetValue(finalLr) ?? peak / 5, total, warmupSteps),
                    Seed = result.GetValue(seed),
                    SaveEvery = result.GetValue(saveEvery),
                    KeepLast = result.GetValue(keep),
                    EvalEvery = result.GetValue(evalEvery),
                    MtpWeight = depthLambda,
                    MtpWeightLate = depthLambda,
                    BiasUpdateSpeed = result.GetValue(biasSpeed),
                    Objective = new ObjectiveOptions { MtpDepth = result.GetValue(mtpDepth) },
                },
            };
            var summary = TrainingRun.Execute(options, packed, encoder, writer);
            TrainCommand.CopyTokenizer(modelDir, summary.ModelDirectory);
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: {summary.Steps} steps, {(packed.MixedWindows > 0 ? "train loss (assistant tokens and replayed text)" : "assistant-token loss")} {summary.FinalLoss:F4}, val {(summary.ValidationLoss is double v ? v.ToString("F4", CultureInfo.InvariantCulture) : "none")}; model: {summary.ModelDirectory}"));
            return 0;
        });
        return command;
    }
}
