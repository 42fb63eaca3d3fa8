using System.CommandLine;
using System.Text.Json;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Evaluation;
using DeepSeekV3.Inference;
using DeepSeekV3.IO;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 eval`: score a model on a JSONL task (perplexity, multiple choice or exact match), printing a
/// markdown table and optionally writing the results as JSON.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model(required: false);
        var task = new Option<string>("--task") { Description = "Task file, JSONL: {\"text\"} (perplexity), {\"question\",\"choices\",\"answer\": index} (choice) or {\"question\",\"answer\"} (exact-match) or {\"task_id\",\"prompt\",\"test\",\"entry_point\"} (code, HumanEval's)", Required = true };
        var kind = new Option<string>("--kind") { Description = "perplexity, choice, exact-match or code (pass@k)", Required = true };
        kind.AcceptOnlyFromAmong("perplexity", "choice", "exact-match", "code");
        var shots = new Option<int>("--shots") { Description = "Few-shot examples before each question (from the task's other items)", DefaultValueFactory = _ => 0 };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N items" };
        var json = new Option<string?>("--json") { Description = "Write the results (metrics, settings, generated answers) to this JSON file" };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per forward pass or generation batch", DefaultValueFactory = _ => 8 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "exact-match: new tokens per answer at most", DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int>("--max-length") { Description = "perplexity: tokens per scored window", DefaultValueFactory = _ => 1024 };
        var chat = new Option<bool>("--chat") { Description = "Ask through the model's chat template (for chat-tuned models)" };
        var seed = new Option<long>("--seed") { Description = "Chooses the few-shot examples", DefaultValueFactory = _ => 1234 };
        var samples = new Option<int>("--samples") { Description = "code: completions sampled per task (n of pass@k)", DefaultValueFactory = _ => 1 };
        var passK = new Option<int[]>("--pass-k") { Description = "code: the k of each pass@k reported (repeatable, each ≤ --samples)", DefaultValueFactory = _ => [1], AllowMultipleArgumentsPerToken = true };
        var temperature = new Option<double>("--temperature") { Description = "code: sampling temperature (0 = greedy)", DefaultValueFactory = _ => 0.0 };
        var topP = new Option<double>("--top-p") { Description = "code: nucleus sampling mass", DefaultValueFactory = _ => 1.0 };
        var timeout = new Option<double>("--timeout") { Description = "code: wall-clock seconds per program run (also the CPU-seconds limit)", DefaultValueFactory = _ => 5.0 };
        var memory = new Option<int>("--memory-mb") { Description = "code: address-space limit per program run, MB", DefaultValueFactory = _ => 512 };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: library default)", DefaultValueFactory = _ => 1 };
        var command = new Command("eval", "Evaluate a model on a task: perplexity, multiple choice, exact match or code pass@k")
        {
            model, task, kind, shots, limit, json, batch, maxTokens, maxLength, chat, seed, samples, passK, temperature, topP, timeout, memory, threads,
        };
        command.SetAction(result =>
        {
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            string dir = result.GetValue(model) ?? CliOptions.DefaultModelDirectory();
            var evalTask = EvalTask.Load(result.GetValue(task)!, ParseKind(result.GetValue(kind)!));
            var options = new EvalOptions
            {
                Shots = result.GetValue(shots),
                Limit = result.GetValue(limit),
                BatchSize = result.GetValue(batch),
                MaxNewTokens = result.GetValue(maxTokens),
                MaxLength = result.GetValue(maxLength),
                Chat = result.GetValue(chat),
                Seed = result.GetValue(seed),
                Samples = result.GetValue(samples),
                PassK = result.GetValue(passK) ?? [1],
                Sampling = new SamplingParams
                {
                    Temperature = result.GetValue(temperature),
                    TopP = result.GetValue(topP),
                    MaxTokens = result.GetValue(maxTokens),
                }.Validated(),
                TimeLimit = TimeSpan.FromSeconds(result.GetValue(timeout)),
                MemoryBytes = (long)result.GetValue(memory) << 20,
            };
            if (options.Shots < 0 || options.Limit < 1 || options.BatchSize < 1 || options.MaxNewTokens < 1 || options.MaxLength < 1)
                throw new InvalidArgumentException("--shots must be ≥ 0; --limit, --batch-size, --max-tokens and --max-length ≥ 1");
            using var network = ModelCheckpoint.Load(dir);
            var evaluator = new Evaluator(network, ByteLevelBpeTokenizer.Load(dir), options);
            var error = result.InvocationConfiguration.Error;
            var report = evaluator.Run(evalTask, dir, new ProgressBar(error, evalTask.Name));
            error.WriteLine();
            var output = result.InvocationConfiguration.Output;
            output.Write(EvalReport.Markdown([report]));
            output.WriteLine($"{report.Items} items in {report.Seconds:F1} s");
            if (result.GetValue(json) is { } path)
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return 0;
        });
        return command;
    }

    internal static EvalKind ParseKind(string value) => value switch
    {
        "perplexity" => EvalKind.Perplexity,
        "choice" => EvalKind.Choice,
        "exact-match" => EvalKind.ExactMatch,
        "code" => EvalKind.Code,
        _ => throw new InvalidArgumentException($"--kind \"{value}\": expected perplexity, choice, exact-match or code"),
    };

    /// <summary>A one-line progress bar redrawn in place: <c>task [#####-----] 40/100</c>.</summary>
    private sealed class ProgressBar(TextWriter writer, string label) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value)
        {
            int filled = value.Total == 0 ? 0 : 30 * value.Done / value.Total;
            writer.Write($"\r{label} [{new string('#', filled)}{new string('-', 30 - filled)}] {value.Done}/{value.Total}");
            writer.Flush();
        }
    }
}
