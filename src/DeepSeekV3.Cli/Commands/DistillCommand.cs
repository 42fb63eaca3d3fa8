using System.CommandLine;
using System.Globalization;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Distillation;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 distill`: sample chat training data from a teacher (optionally keeping only correct answers),
/// write it as JSONL, and fine-tune the student on it: with `dsv3 sft` (cross-entropy on the teacher's tokens), or
/// with --logit-kd on the teacher's whole distribution.</summary>
internal static class DistillCommand
{
    public static Command Create()
    {
        var teacher = new Option<string>("--teacher") { Description = "Teacher model directory", Required = true };
        var student = new Option<string>("--student") { Description = "Student model directory (same tokenizer)", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "JSONL {\"question\"[, \"answer\"]} per line", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Run directory: distill.jsonl, then the SFT run (sft/) or the KD model (model/)", Required = true };
        var samples = new Option<int>("--samples") { Description = "Teacher completions per prompt", DefaultValueFactory = _ => 1 };
        var temperature = new Option<double>("--temperature") { Description = "Teacher sampling temperature (0 = greedy)", DefaultValueFactory = _ => 0.7 };
        var topP = new Option<double>("--top-p") { Description = "Teacher nucleus sampling mass", DefaultValueFactory = _ => 0.95 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens per teacher completion at most", DefaultValueFactory = _ => 64 };
        var reward = new Option<bool>("--reward-filter") { Description = "Keep only completions whose answer matches the prompt's \"answer\" (GRPO's rule-based check)" };
        var seed = new Option<long>("--seed") { Description = "Teacher sampling seeds and data order", DefaultValueFactory = _ => 1234 };
        var steps = new Option<int>("--steps") { Description = "Student optimizer steps", DefaultValueFactory = _ => 100 };
        var lr = new Option<double>("--lr") { Description = "Student peak learning rate", DefaultValueFactory = _ => 1e-4 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per packed window", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch") { Description = "Windows per step", DefaultValueFactory = _ => 8 };
        var logitKd = new Option<bool>("--logit-kd") { Description = "Train on KL(teacher ‖ student) of the teacher's distribution instead of SFT on its tokens" };
        var kdTemperature = new Option<double>("--kd-temperature") { Description = "τ of --logit-kd (loss scaled by τ²)", DefaultValueFactory = _ => 1.0 };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: library default)", DefaultValueFactory = _ => 1 };
        var saveEvery = new Option<int>("--save-every") { Description = "Checkpoint the student every N steps (0: SFT only at the end, KD none)", DefaultValueFactory = _ => 0 };
        var keep = new Option<int>("--keep") { Description = "Checkpoints to keep", DefaultValueFactory = _ => 3 };
        var resume = new Option<bool>("--resume") { Description = "Continue the student's training from its newest checkpoint (the teacher's distill.jsonl is reused)" };
        var command = new Command("distill", "Distill a teacher into a student: teacher-sampled chat data, then SFT or logit KD")
        {
            teacher, student, prompts, output, samples, temperature, topP, maxTokens, reward, seed, steps, lr, seqLen, batch, logitKd, kdTemperature, threads,
            saveEvery, keep, resume,
        };
        command.SetAction(result =>
        {
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            var writer = result.InvocationConfiguration.Output;
            string teacherDir = result.GetValue(teacher)!, studentDir = result.GetValue(student)!, outDir = result.GetValue(output)!;
            bool filter = result.GetValue(reward);
            var items = TeacherData.LoadPrompts(result.GetValue(prompts)!, needAnswers: filter);
            var tokenizer = ByteLevelBpeTokenizer.Load(teacherDir);
            var sampling = new TeacherSamplingOptions
            {
                Samples = result.GetValue(samples),
                Sampling = new SamplingParams { Temperature = result.GetValue(temperature), TopP = result.GetValue(topP), MaxTokens = result.GetValue(maxTokens) },
                RewardFilter = filter,
                Seed = result.GetValue(seed),
            };
            string dataPath = Path.Combine(outDir, "distill.jsonl");
            bool resuming = result.GetValue(resume);
            if (resuming && File.Exists(dataPath))
                writer.WriteLine($"teacher: reusing {dataPath} (--resume; it was written whole, atomically)");
            else
            {
                List<DistilledExample> data;
                using (var teacherModel = ModelCheckpoint.Load(teacherDir))
                    data = TeacherData.Generate(teacherModel, tokenizer, items, sampling);
                if (data.Count == 0)
                    throw new InvalidArgumentException("distill: the reward filter kept no teacher completion; raise --samples or drop --reward-filter");
                Directory.CreateDirectory(outDir);
                TeacherData.WriteChat(dataPath, data);
                int total = items.Count * sampling.Samples;
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"teacher: {data.Count} of {total} completions kept{(filter ? " (correct ones)" : "")}; data: {dataPath}"));
            }
            string[] common = ["--steps", $"{result.GetValue(steps)}", "--lr", $"{result.GetValue(lr).ToString(CultureInfo.InvariantCulture)}",
                               "--seq-len", $"{result.GetValue(seqLen)}", "--threads", $"{result.GetValue(threads)}",
                               "--save-every", $"{result.GetValue(saveEvery)}", "--keep", $"{result.GetValue(keep)}", .. (resuming ? ["--resume"] : Array.Empty<string>())];
            if (!result.GetValue(logitKd))
            {
                // The SFT path as it is: `dsv3 sft` on the written data, its run under OUT/sft.
                int tokens = result.GetValue(seqLen) * result.GetValue(batch);
                return SftCommand.Create().Parse(["--model", studentDir, "--data", dataPath, "--out", Path.Combine(outDir, "sft"),
                    "--batch-tokens", $"{tokens}", "--val-fraction", "0", "--seed", $"{result.GetValue(seed)}", .. common]).Invoke(result.InvocationConfiguration);
            }
            return LogitKd(writer, teacherDir, studentDir, outDir, dataPath, tokenizer, new LogitDistillationOptions
            {
                Temperature = result.GetValue(kdTemperature),
                Steps = result.GetValue(steps),
                BatchSequences = result.GetValue(batch),
                LearningRate = result.GetValue(lr),
                Seed = result.GetValue(seed),
            }, result.GetValue(seqLen), new StepCheckpoints
            {
                RunDirectory = outDir,
                SaveEvery = result.GetValue(saveEvery),
                KeepLast = result.GetValue(keep),
                Resume = resuming,
            });
        });
        return command;
    }

    private static int LogitKd(TextWriter writer, string teacherDir, string studentDir, string outDir, string dataPath,
        ByteLevelBpeTokenizer tokenizer, LogitDistillationOptions options, int sequenceLength, StepCheckpoints checkpoints)
    {
        var packed = PackedDataset.Pack(ChatExamples.Load(dataPath, tokenizer),
            new DataOptions { SequenceLength = sequenceLength, FimRate = 0, ValidationFraction = 0, Seed = options.Seed });
        using var teacherModel = ModelCheckpoint.Load(teacherDir);
        using var studentModel = ModelCheckpoint.Load(studentDir);
        using var kd = new LogitDistillation(teacherModel, studentModel, options);
        var probe = Enumerable.Range(0, (int)Math.Min(8, packed.TrainWindows)).Select(i => (long)i).ToList();
        double before = kd.Divergence(packed, probe);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        kd.Run(packed, (step, loss) =>
        {
            if (step == 1 || step % 10 == 0 || step == options.Steps)
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {step}/{options.Steps}: KD loss {loss:F4} ({clock.Elapsed.TotalSeconds:F0} s)"));
        }, checkpoints);
        double after = kd.Divergence(packed, probe);
        string modelDir = Path.Combine(outDir, "model");
        ModelCheckpoint.Save(studentModel, modelDir);
        TrainCommand.CopyTokenizer(studentDir, modelDir);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"KL(teacher ‖ student) on the first {probe.Count} windows, τ 1: {before:F4} → {after:F4}; model: {modelDir}"));
        return 0;
    }
}
