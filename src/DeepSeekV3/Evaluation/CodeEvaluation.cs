using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Randomness;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Evaluation;

/// <summary>
/// pass@k on code tasks (HumanEval's protocol, Chen et al. 2021): for every task sample n completions of the prompt
/// with the configured sampling, cut each at the first of Codex's stop strings (the model starting another
/// top-level statement), run prompt + completion + tests in the <see cref="CodeSandbox"/>, and average the unbiased
/// <see cref="PassAtK"/> estimate over tasks. Sample j of task i is seeded from (seed, i, j), so a run repeats.
/// </summary>
public sealed class CodeEvaluation(DeepSeekV3ForCausalLM model, ByteLevelBpeTokenizer tokenizer, EvalOptions options)
{
    /// <summary>Codex's stop strings (Chen et al. 2021, §3.3).</summary>
    public static IReadOnlyList<string> Stops { get; } = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"];

    public EvalReport Run(IReadOnlyList<EvalItem> items, EvalReport report, IProgress<(int Done, int Total)>? progress)
    {
        int n = options.Samples;
        if (n < 1) throw new InvalidArgumentException($"--samples {n}: need at least 1 completion per task");
        foreach (int k in options.PassK)
            if (k < 1 || k > n)
                throw new InvalidArgumentException($"--pass-k {k}: each k must be in [1, --samples = {n}]");
        var sandbox = new CodeSandbox(options.TimeLimit, options.MemoryBytes);
        var jobs = Enumerable.Range(0, items.Count).SelectMany(i => Enumerable.Range(0, n).Select(j => (Item: i, Sample: j))).ToList();
        var samples = new List<EvalSample>();
        int batch = Math.Max(1, options.BatchSize);
        for (int start = 0; start < jobs.Count; start += batch)
        {
            var part = jobs.Skip(start).Take(batch).ToList();
            var completions = Complete(part.Select(job => (items[job.Item].Code!.Prompt, SampleSeed(job.Item, job.Sample))).ToList());
            for (int b = 0; b < part.Count; b++)
            {
                var item = items[part[b].Item];
                var outcome = sandbox.Run(item.Code!.Program(completions[b]));
                samples.Add(new EvalSample(item.Line, completions[b], null, item.Question, outcome == CodeOutcome.Passed)
                {
                    Outcome = outcome.ToString().ToLowerInvariant(),
                });
            }
            progress?.Report((start + part.Count, jobs.Count));
        }
        var metrics = new Dictionary<string, double>();
        var passed = Enumerable.Range(0, items.Count).Select(i => samples.Skip(i * n).Take(n).Count(s => s.Correct)).ToList();
        foreach (int k in options.PassK.Distinct().Order())
            metrics[$"pass@{k}"] = passed.Average(c => PassAtK.Estimate(n, c, k));
        foreach (var outcome in Enum.GetValues<CodeOutcome>())
        {
            string name = outcome.ToString().ToLowerInvariant();
            metrics[$"share_{name}"] = samples.Count(s => s.Outcome == name) / (double)samples.Count;
        }
        return report with { Metrics = metrics, Samples = samples };
    }

    /// <summary>The seed of sample <paramref name="sample"/> of item <paramref name="item"/>.</summary>
    private long SampleSeed(int item, int sample) => unchecked((long)new SplitMix64(options.Seed, (long)item << 20 | (long)sample).Next());

    private List<string> Complete(List<(string Prompt, long Seed)> prompts)
    {
        var engine = new GenerationEngine(model);
        var requests = prompts.Select(p => new GenerationRequest(
            tokenizer.Encode(p.Prompt, addSpecialTokens: true).Select(t => (long)t).ToArray(),
            options.Sampling with { Seed = p.Seed })).ToList();
        var generated = requests.Select(_ => new List<int>()).ToList();
        engine.Generate(requests, (i, token) =>
        {
            generated[i].Add((int)token);
            return !Stops.Any(tokenizer.Decode(generated[i], skipSpecialTokens: true).Contains);
        });
        return generated.Select(tokens => Evaluator.Truncate(tokenizer.Decode(tokens, skipSpecialTokens: true), Stops)).ToList();
    }
}
