using System.Diagnostics;
using System.Text;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Evaluation;

/// <summary>
/// Runs an <see cref="EvalTask"/> on a model: perplexity and bits per byte on text, multiple choice by
/// log-likelihood (acc, and acc_norm: each choice's log-likelihood divided by its length in characters, as
/// lm-evaluation-harness does), or greedy generation scored by exact match of the extracted final number.
/// Everything is deterministic: scoring has no randomness and generation is greedy. Code tasks (pass@k) are
/// <see cref="CodeEvaluation"/>'s.
/// </summary>
public sealed class Evaluator(DeepSeekV3ForCausalLM model, ByteLevelBpeTokenizer tokenizer, EvalOptions options)
{
    private readonly LogLikelihood _scorer = new(model, Math.Max(1, options.BatchSize));
    private readonly EvalPrompt _prompt = new(options,
        ChatTemplate.BosToken(tokenizer));

    /// <param name="progress">Receives (done, total) in the task's unit of work (scored rows or generated answers).</param>
    public EvalReport Run(EvalTask task, string modelName, IProgress<(int Done, int Total)>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var items = options.Limit is int limit ? task.Items.Take(limit).ToList() : task.Items.ToList();
        var report = new EvalReport
        {
            Task = task.Name,
            File = task.Path,
            Kind = task.Kind switch { EvalKind.Perplexity => "perplexity", EvalKind.Choice => "choice", EvalKind.Code => "code", _ => "exact-match" },
            Model = modelName,
            Items = items.Count,
            Shots = task.Kind is EvalKind.Perplexity or EvalKind.Code ? 0 : options.Shots,
            Chat = options.Chat && task.Kind is not (EvalKind.Perplexity or EvalKind.Code),
        };
        // Few-shot examples come from the whole file, also beyond --limit.
        report = task.Kind switch
        {
            EvalKind.Perplexity => Perplexity(items, report, progress),
            EvalKind.Choice => Choice(task.Items, items.Count, report, progress),
            EvalKind.Code => new CodeEvaluation(model, tokenizer, options).Run(items, report, progress),
            _ => ExactMatch(task.Items, items.Count, report, progress),
        };
        return report with { Seconds = clock.Elapsed.TotalSeconds };
    }

    private EvalReport Perplexity(List<EvalItem> items, EvalReport report, IProgress<(int, int)>? progress)
    {
        int window = Math.Min(options.MaxLength, model.Config.MaxPositionEmbeddings);
        var requests = new List<LogLikelihood.Request>();
        long bytes = 0;
        foreach (var item in items)
        {
            long[] tokens = Encode(item.Text, addSpecialTokens: true);
            bytes += Encoding.UTF8.GetByteCount(item.Text);
            // Disjoint windows: tokens [start, start + window) predicted from the one token before them onwards.
            for (int start = 1; start < tokens.Length; start += window)
                requests.Add(new(tokens[(start - 1)..start], tokens[start..Math.Min(start + window, tokens.Length)]));
        }
        if (requests.Count == 0)
            throw new InvalidArgumentException($"{report.File}: every text is a single token; nothing to predict");
        var scores = _scorer.Run(requests, done => progress?.Report((done, requests.Count)));
        double nll = -scores.Sum(s => s.LogProbability);
        long predicted = scores.Sum(s => (long)s.Tokens);
        return report with
        {
            Metrics = new()
            {
                ["perplexity"] = Math.Exp(nll / predicted),
                ["bits_per_byte"] = nll / Math.Log(2) / bytes,
                ["nll_per_token"] = nll / predicted,
                ["tokens"] = predicted,
                ["bytes"] = bytes,
            },
        };
    }

    private EvalReport Choice(IReadOnlyList<EvalItem> all, int count, EvalReport report, IProgress<(int, int)>? progress)
    {
        var requests = new List<LogLikelihood.Request>();
        for (int i = 0; i < count; i++)
        {
            long[] context = EncodePrompt(_prompt.Render(all, i, shot => shot.Choices![shot.Answer]));
            foreach (string choice in all[i].Choices!)
                requests.Add(new(context, Encode(_prompt.Continuation(choice), addSpecialTokens: false)));
        }
        var scores = _scorer.Run(requests, done => progress?.Report((done, requests.Count)));
        int correct = 0, correctNormalized = 0, next = 0;
        for (int i = 0; i < count; i++)
        {
            var choices = all[i].Choices!;
            var item = scores.AsSpan(next, choices.Count).ToArray();
            next += choices.Count;
            if (ArgMax(item.Select(s => s.LogProbability)) == all[i].Answer) correct++;
            if (ArgMax(item.Select((s, c) => s.LogProbability / Math.Max(1, _prompt.Continuation(choices[c]).Length))) == all[i].Answer)
                correctNormalized++;
        }
        double acc = (double)correct / count, norm = (double)correctNormalized / count;
        return report with
        {
            Metrics = new() { ["acc"] = acc, ["acc_norm"] = norm },
            StandardErrors = new() { ["acc"] = EvalReport.StandardError(acc, count), ["acc_norm"] = EvalReport.StandardError(norm, count) },
        };
    }

    private EvalReport ExactMatch(IReadOnlyList<EvalItem> all, int count, EvalReport report, IProgress<(int, int)>? progress)
    {
        var engine = new GenerationEngine(model);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = options.MaxNewTokens };
        var stops = options.Chat ? [] : EvalPrompt.PlainStops;
        var samples = new List<EvalSample>();
        for (int start = 0; start < count; start += Math.Max(1, options.BatchSize))
        {
            int size = Math.Min(Math.Max(1, options.BatchSize), count - start);
            var requests = Enumerable.Range(start, size)
                .Select(i => new GenerationRequest(EncodePrompt(_prompt.Render(all, i, shot => shot.Reference)), sampling)).ToList();
            var generated = requests.Select(_ => new List<int>()).ToList();
            // A request stops as soon as its text holds a stop string (the model began another example).
            engine.Generate(requests, (i, token) =>
            {
                generated[i].Add((int)token);
                string text = tokenizer.Decode(generated[i], skipSpecialTokens: true);
                return !stops.Any(text.Contains);
            });
            for (int j = 0; j < size; j++)
            {
                var item = all[start + j];
                string text = Truncate(tokenizer.Decode(generated[j], skipSpecialTokens: true), stops);
                string? answer = AnswerExtraction.Extract(text), reference = AnswerExtraction.Extract(item.Reference);
                samples.Add(new EvalSample(item.Line, text, answer, reference, answer is not null && answer == reference));
            }
            progress?.Report((start + size, count));
        }
        double exact = samples.Count(s => s.Correct) / (double)count;
        double answered = samples.Count(s => s.Extracted is not null) / (double)count;
        return report with
        {
            Metrics = new() { ["exact_match"] = exact, ["answered"] = answered },
            StandardErrors = new() { ["exact_match"] = EvalReport.StandardError(exact, count) },
            Samples = samples,
        };
    }

    /// <summary>The text before the first stop string.</summary>
    internal static string Truncate(string text, IReadOnlyList<string> stops)
    {
        int end = stops.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(text.Length).Min();
        return text[..end];
    }

    /// <summary>A plain prompt gets BOS from the tokenizer's config; a chat prompt already starts with it.</summary>
    private long[] EncodePrompt(string prompt) => Encode(prompt, addSpecialTokens: !options.Chat);

    private long[] Encode(string text, bool addSpecialTokens) =>
        tokenizer.Encode(text, addSpecialTokens).Select(t => (long)t).ToArray();

    private static int ArgMax(IEnumerable<double> values) =>
        values.Select((v, i) => (v, i)).Aggregate((best, x) => x.v > best.v ? x : best).i;
}
