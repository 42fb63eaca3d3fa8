using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.IO;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Mtp;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 mtp-tune`: trains the MTP module(s) alone toward the frozen main model's own predictions, and
/// measures MTP speculative decoding's acceptance before and after on held-out text.</summary>
internal static class MtpTuneCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model(required: false);
        var data = new Option<string[]>("--data") { Description = "Text files or JSONL with \"text\" (the main model reads them; their tokens are the MTP inputs)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out", "-o") { Description = "Directory for the tuned model (config, weights, tokenizer)", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => 200 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per window T", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch") { Description = "Windows per step", DefaultValueFactory = _ => 8 };
        var lr = new Option<double>("--lr") { Description = "Learning rate after a 10-step warm-up", DefaultValueFactory = _ => 1e-4 };
        var soft = new Option<bool>("--soft") { Description = "KL to the main model's whole distribution instead of cross-entropy to its argmax" };
        var documents = new Option<int>("--documents") { Description = "Documents read for training at most (the next --eval-prompts are held out for measuring)", DefaultValueFactory = _ => 400 };
        var evalPrompts = new Option<int>("--eval-prompts") { Description = "Held-out documents whose first 16 tokens prompt the acceptance measurement", DefaultValueFactory = _ => 8 };
        var evalTokens = new Option<int>("--eval-tokens") { Description = "New tokens per acceptance prompt", DefaultValueFactory = _ => 64 };
        var seed = new Option<long>("--seed") { Description = "Window order", DefaultValueFactory = _ => 1234 };
        var json = new Option<string?>("--json") { Description = "Write settings, loss curve and acceptance before/after to this JSON file" };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: library default)", DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { Description = "Checkpoint into OUT/checkpoints every N steps (0: none)", DefaultValueFactory = _ => 0 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep", DefaultValueFactory = _ => 3 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in OUT/checkpoints up to --steps" };
        var command = new Command("mtp-tune", "Fine-tune the MTP module(s) alone on the main model's own predictions; report speculative acceptance before/after")
        {
            model, data, output, steps, seqLen, batch, lr, soft, documents, evalPrompts, evalTokens, seed, json, threads, saveEvery, keep, resume,
        };
        command.SetAction(result =>
        {
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            string dir = result.GetValue(model) ?? CliOptions.DefaultModelDirectory();
            var writer = result.InvocationConfiguration.Output;
            var tokenizer = ByteLevelBpeTokenizer.Load(dir);
            int trainCount = result.GetValue(documents), promptCount = result.GetValue(evalPrompts), newTokens = result.GetValue(evalTokens);
            var texts = DocumentSource.Files(result.GetValue(data)!).SelectMany(f => DocumentSource.Documents(f).Select(d => d.Text))
                .Take(trainCount + promptCount).ToList();
            if (texts.Count <= promptCount)
                throw new InvalidArgumentException($"--data: {texts.Count} document(s); need more than --eval-prompts {promptCount}");
            var held = texts.Skip(texts.Count - promptCount).Select(t => tokenizer.Encode(t, addSpecialTokens: true).Take(16).Select(x => (long)x).ToArray()).ToList();
            var encoder = new BpeTokenEncoder(tokenizer, dir);
            var train = texts.Take(texts.Count - promptCount).Select(encoder.Encode).ToList();
            var packed = PackedDataset.Build(new InMemoryDocuments(train), encoder,
                new DataOptions { SequenceLength = result.GetValue(seqLen), FimRate = 0, ValidationFraction = 0, Seed = result.GetValue(seed) });
            var options = new MtpTuneOptions
            {
                Steps = result.GetValue(steps),
                BatchSequences = result.GetValue(batch),
                LearningRate = result.GetValue(lr),
                SoftTargets = result.GetValue(soft),
                Seed = result.GetValue(seed),
            };
            using var network = ModelCheckpoint.Load(dir);
            var before = Acceptance(network, held, newTokens);
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"data: {train.Count} documents, {packed.TrainTokens:N0} tokens, {packed.TrainWindows} windows; acceptance before: greedy {before.Greedy:P1}, T 0.7 {before.Sampled:P1}"));
            var curve = new List<object>();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string outDir = result.GetValue(output)!;
            var checkpoints = new StepCheckpoints
            {
                RunDirectory = outDir,
                SaveEvery = result.GetValue(saveEvery),
                KeepLast = result.GetValue(keep),
                Resume = result.GetValue(resume),
            };
            using (var tuner = new MtpSelfDistillation(network, options))
            {
                tuner.Run(packed, (step, loss, agreement) =>
                {
                    curve.Add(new { step, loss = Math.Round(loss, 5), agreement = Math.Round(agreement, 4) });
                    if (step == 1 || step % 10 == 0 || step == options.Steps)
                        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"step {step}/{options.Steps}: loss {loss:F4}, depth-1 argmax agreement {agreement:P1} ({clock.Elapsed.TotalSeconds:F0} s)"));
                }, checkpoints);
            }
            network.eval();
            var after = Acceptance(network, held, newTokens);
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"acceptance after: greedy {after.Greedy:P1} (before {before.Greedy:P1}), T 0.7 {after.Sampled:P1} (before {before.Sampled:P1})"));
            ModelCheckpoint.Save(network, outDir);
            TrainCommand.CopyTokenizer(dir, outDir);
            writer.WriteLine($"model: {outDir}");
            if (result.GetValue(json) is { } path)
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(new
                {
                    model = dir,
                    data = result.GetValue(data),
                    documents = train.Count,
                    steps = options.Steps,
                    seq_len = result.GetValue(seqLen),
                    batch = options.BatchSequences,
                    lr = options.LearningRate,
                    targets = options.SoftTargets ? "soft (KL to the main distribution)" : "greedy (argmax of the main model)",
                    seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
                    load_average = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "",
                    eval_prompts = held.Count,
                    eval_tokens = newTokens,
                    acceptance_before = new { greedy = Math.Round(before.Greedy, 4), t07 = Math.Round(before.Sampled, 4) },
                    acceptance_after = new { greedy = Math.Round(after.Greedy, 4), t07 = Math.Round(after.Sampled, 4) },
                    curve,
                }, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return 0;
        });
        return command;
    }

    private static (double Greedy, double Sampled) Acceptance(Modeling.DeepSeekV3ForCausalLM model, List<long[]> prompts, int newTokens)
    {
        using var _ = TorchSharp.torch.no_grad();
        return (SpeculativeAcceptance.Measure(model, prompts, newTokens, 0).Rate,
                SpeculativeAcceptance.Measure(model, prompts, newTokens, 0.7).Rate);
    }
}
