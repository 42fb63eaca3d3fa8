using System.Text.Json;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Evaluation;
using DeepSeekV3.IO;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Cli;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tokenization;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Evaluation;

public class EvaluationTests
{
    [Theory]
    [InlineData("Natalia sold 48 + 24 = 72 clips. #### 72", "72")]
    [InlineData("#### 1,234 and then 5", "1234")]
    [InlineData("so the answer is 7.", "7")]
    [InlineData("3 + 4 = 7.0", "7")]
    [InlineData("costs $12 in total", "12")]
    [InlineData("-3 degrees", "-3")]
    [InlineData("no number here", null)]
    public void Answer_is_the_number_after_the_marker_else_the_last_number(string text, string? expected) =>
        Assert.Equal(expected, AnswerExtraction.Extract(text));

    [Theory]
    [InlineData("{\"question\": \"q\", \"choices\": [\"a\"], \"answer\": 0}", "line 2: field \"choices\" has 1 item(s), expected at least 2")]
    [InlineData("{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": 2}", "line 2: field \"answer\" is 2, expected an index into \"choices\" in [0, 2)")]
    [InlineData("{\"question\": \"q\", \"choices\": [\"a\", 3], \"answer\": 0}", "line 2: field \"choices\"[1] is a number, expected a string")]
    [InlineData("{\"choices\": [\"a\", \"b\"], \"answer\": 0}", "line 2: no field \"question\"")]
    [InlineData("[1, 2]", "line 2: expected a JSON object, found an array")]
    [InlineData("{\"question\": ", "line 2: not valid JSON")]
    public void Malformed_choice_items_name_file_and_line(string line, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("task.jsonl");
        File.WriteAllText(path, "{\"question\": \"ok\", \"choices\": [\"a\", \"b\"], \"answer\": 1}\n" + line + "\n");
        var error = Assert.Throws<DataFormatException>(() => EvalTask.Load(path, EvalKind.Choice));
        Assert.StartsWith($"{path}:2: ", error.Message);
        Assert.Contains(expected.Replace("line 2: ", ""), error.Message);
        Assert.Equal(2, error.Line);
    }

    [Fact]
    public void Exact_match_items_need_a_number_in_the_answer()
    {
        using var dir = new TempDirectory();
        string path = dir.File("task.jsonl");
        File.WriteAllText(path, "{\"question\": \"2+2?\", \"answer\": 4}\n\n{\"question\": \"name?\", \"answer\": \"Bob\"}\n");
        var error = Assert.Throws<DataFormatException>(() => EvalTask.Load(path, EvalKind.ExactMatch));
        Assert.Equal(3, error.Line);                                                       // blank lines still count
        Assert.Contains("holds no number", error.Message);
    }

    [Fact]
    public void Batched_log_likelihood_equals_each_request_scored_alone_by_hand()
    {
        using var model = new DeepSeekV3ForCausalLM(ModelPresets.Get("tiny"));
        WeightInitializer.Initialize(model, 3, 0.02);
        var requests = new List<LogLikelihood.Request>
        {
            new([1, 2, 3], [4, 5]),
            new([7], [8, 9, 10, 11]),
            new([2, 2], [6]),
        };
        var batched = new LogLikelihood(model, batchSize: 3).Run(requests);
        foreach (var (request, score) in requests.Zip(batched))
        {
            // By hand: one unpadded forward over context + continuation, Σ log softmax at each continuation token.
            long[] all = [.. request.Context, .. request.Continuation];
            using var _ = no_grad();
            using var logits = model.Forward(tensor(all[..^1]).unsqueeze(0)).Logits;
            using var logProbs = logits.log_softmax(-1);
            double expected = 0;
            for (int j = 0; j < request.Continuation.Length; j++)
                expected += logProbs[0, request.Context.Length - 1 + j, request.Continuation[j]].item<float>();
            Assert.Equal(expected, score.LogProbability, 4);
            Assert.Equal(request.Continuation.Length, score.Tokens);
        }
    }

    [Fact]
    public void Few_shot_examples_are_other_items_in_a_seeded_order()
    {
        var items = Enumerable.Range(0, 5).Select(i => new EvalItem(i + 1, Question: $"q{i}", Reference: $"{i}")).ToList();
        var prompt = new EvalPrompt(new EvalOptions { Shots = 2, Seed = 7 }, ChatTemplate.DefaultBosToken);
        for (int i = 0; i < items.Count; i++)
        {
            var shots = prompt.Shots(items.Count, i).ToList();
            Assert.Equal(2, shots.Distinct().Count());
            Assert.DoesNotContain(i, shots);
            Assert.Equal(shots, prompt.Shots(items.Count, i));
        }
        string text = prompt.Render(items, 0, item => item.Reference);
        Assert.EndsWith("Question: q0\nAnswer:", text);
        Assert.Equal(3, text.Split("Question:").Length - 1);
    }

    [Fact]
    public void Eval_command_reports_every_kind_on_the_bundled_model()
    {
        using var dir = new TempDirectory();
        string repository = Path.GetFullPath(Path.Combine(BundledModelTests.ModelDirectory(), "..", ".."));
        string model = BundledModelTests.ModelDirectory();
        string json = dir.File("out.json");
        var (code, text, err) = CliTests.Run("eval", "--model", model, "--task", Path.Combine(repository, "data", "eval", "sums-heldout.jsonl"),
            "--kind", "exact-match", "--limit", "3", "--shots", "2", "--max-tokens", "8", "--json", json);
        Assert.True(code == 0, err);
        Assert.Contains("| sums-heldout | exact-match | 3 | 2 | exact_match |", text);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(3, doc.RootElement.GetProperty("samples").GetArrayLength());

        (code, text, err) = CliTests.Run("eval", "--model", model, "--task", Path.Combine(repository, "data", "eval", "choice.jsonl"),
            "--kind", "choice", "--limit", "4");
        Assert.True(code == 0, err);
        Assert.Contains("| acc_norm |", text);
        (code, text, err) = CliTests.Run("eval", "--model", model, "--task", Path.Combine(repository, "data", "eval", "text.jsonl"),
            "--kind", "perplexity", "--limit", "2");
        Assert.True(code == 0, err);
        Assert.Contains("| bits_per_byte |", text);

        File.WriteAllText(dir.File("bad.jsonl"), "{\"text\": 3}\n");
        (code, _, err) = CliTests.Run("eval", "--model", model, "--task", dir.File("bad.jsonl"), "--kind", "perplexity");
        Assert.Equal(2, code);
        Assert.Contains("bad.jsonl:1: field \"text\" is a number, expected a string", err);
    }
}
