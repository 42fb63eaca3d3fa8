using System.CommandLine;
using System.Globalization;
using DeepSeekV3.Training.Grpo;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 grpo`: reinforcement learning with Group Relative Policy Optimization on a task of questions with
/// checkable answers (rule-based reward), KL-penalized to the starting model.</summary>
internal static class GrpoCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model(required: true);
        var task = new Option<string>("--task") { Description = "Prompts, JSONL {\"question\", \"answer\"} (answer: the number to match)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Run directory: checkpoints/, model/, metrics.jsonl, plots/", Required = true };
        var steps = new Option<int>("--steps") { Description = "Steps in total (with --resume: continue up to this step)", DefaultValueFactory = _ => 100 };
        var prompts = new Option<int>("--prompts") { Description = "Prompts per step", DefaultValueFactory = _ => 8 };
        var group = new Option<int>("--group") { Description = "G: completions sampled per prompt", DefaultValueFactory = _ => 8 };
        var clip = new Option<double>("--clip") { Description = "ε: the policy ratio is clipped to [1−ε, 1+ε]", DefaultValueFactory = _ => 0.2 };
        var beta = new Option<double>("--beta") { Description = "β: weight of the KL penalty to the reference (the starting model)", DefaultValueFactory = _ => 0.04 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature of the completions", DefaultValueFactory = _ => 1.0 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "New tokens per completion at most", DefaultValueFactory = _ => 8 };
        var iterations = new Option<int>("--iterations") { Description = "μ: policy updates per batch of completions", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { Description = "Learning rate (constant after warm-up)", DefaultValueFactory = _ => 1e-5 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps", DefaultValueFactory = _ => 5 };
        var formatReward = new Option<double>("--format-reward") { Description = "Reward added when a completion is only a number ended by EOS (correct answers get 1)", DefaultValueFactory = _ => 0.2 };
        var microBatch = new Option<int>("--micro-batch") { Description = "Completions per forward/backward", DefaultValueFactory = _ => 32 };
        var seed = new Option<long>("--seed") { Description = "Prompt order and sampling", DefaultValueFactory = _ => 0 };
        var saveEvery = new Option<int>("--save-every") { Description = "Checkpoint every N steps (0: only at the end)", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest checkpoint in --out" };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads (0: library default)", DefaultValueFactory = _ => 1 };
        var command = new Command("grpo", "Reinforcement learning with GRPO: group-normalized rule-based rewards, clipped ratio, KL to the reference")
        {
            model, task, output, steps, prompts, group, clip, beta, temperature, maxTokens, iterations, lr, warmup, formatReward,
            microBatch, seed, saveEvery, resume, threads,
        };
        command.SetAction(result =>
        {
            if (result.GetValue(threads) is > 0 and int n) TorchSharp.torch.set_num_threads(n);
            var options = new GrpoOptions
            {
                ModelDirectory = result.GetValue(model)!,
                TaskPath = result.GetValue(task)!,
                OutputDirectory = result.GetValue(output)!,
                Steps = result.GetValue(steps),
                PromptsPerStep = result.GetValue(prompts),
                Group = result.GetValue(group),
                Clip = result.GetValue(clip),
                Beta = result.GetValue(beta),
                Temperature = result.GetValue(temperature),
                MaxNewTokens = result.GetValue(maxTokens),
                Iterations = result.GetValue(iterations),
                LearningRate = result.GetValue(lr),
                WarmupSteps = result.GetValue(warmup),
                FormatReward = result.GetValue(formatReward),
                MicroBatch = result.GetValue(microBatch),
                Seed = result.GetValue(seed),
                SaveEvery = result.GetValue(saveEvery),
                Resume = result.GetValue(resume),
            };
            if (options.Group < 2 || options.PromptsPerStep < 1 || options.Iterations < 1 || options.MicroBatch < 1 || options.MaxNewTokens < 1)
                throw new InvalidArgumentException("--group must be ≥ 2; --prompts, --iterations, --micro-batch and --max-tokens ≥ 1");
            if (options.Temperature <= 0)
                throw new InvalidArgumentException($"--temperature {options.Temperature}: GRPO needs sampled completions (> 0)");
            var writer = result.InvocationConfiguration.Output;
            var summary = GrpoRun.Execute(options, writer);
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: {summary.Steps} steps, mean reward {summary.MeanRewardFirstTenth:F3} (first tenth) → {summary.MeanRewardLastTenth:F3} (last tenth), " +
                $"accuracy {summary.AccuracyFirstTenth:F3} → {summary.AccuracyLastTenth:F3}, KL {summary.KlLastTenth:F4}; model: {summary.ModelDirectory}"));
            return 0;
        });
        return command;
    }
}
