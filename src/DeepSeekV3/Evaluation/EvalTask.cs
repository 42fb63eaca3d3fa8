using DeepSeekV3.IO;

namespace DeepSeekV3.Evaluation;

/// <summary>An evaluation task: a JSONL file read as one <see cref="EvalKind"/>. Every line is checked when the task
/// loads, so a malformed item stops the run before any model time is spent, naming file and line.</summary>
public sealed record EvalTask(string Path, EvalKind Kind, IReadOnlyList<EvalItem> Items)
{
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);

    public static EvalTask Load(string path, EvalKind kind)
    {
        var items = JsonLinesRecord.Read(path).Select(record => kind switch
        {
            EvalKind.Perplexity => Text(record),
            EvalKind.Choice => Choice(record),
            EvalKind.Code => Code(record),
            _ => Question(record),
        }).ToList();
        if (items.Count == 0)
            throw new InvalidArgumentException($"\"{path}\": the task file holds no items");
        return new EvalTask(path, kind, items);
    }

    private static EvalItem Text(JsonLinesRecord record)
    {
        string text = record.String("text");
        return text.Length == 0 ? throw record.Error("field \"text\" is empty") : new EvalItem(record.Line, Text: text);
    }

    private static EvalItem Choice(JsonLinesRecord record)
    {
        string question = record.String("question");
        var choices = record.Strings("choices");
        if (choices.Count < 2)
            throw record.Error($"field \"choices\" has {choices.Count} item(s), expected at least 2");
        int answer = record.Integer("answer");
        if (answer < 0 || answer >= choices.Count)
            throw record.Error($"field \"answer\" is {answer}, expected an index into \"choices\" in [0, {choices.Count})");
        return new EvalItem(record.Line, Question: question, Choices: choices, Answer: answer);
    }

    private static EvalItem Code(JsonLinesRecord record)
    {
        string prompt = record.String("prompt"), test = record.String("test"), entry = record.String("entry_point");
        if (prompt.Trim().Length == 0)
            throw record.Error("field \"prompt\" is empty (expected the start of a Python program to continue)");
        if (!System.Text.RegularExpressions.Regex.IsMatch(entry, @"^[A-Za-z_][A-Za-z0-9_]*$"))
            throw record.Error($"field \"entry_point\" (\"{entry}\") is not a Python identifier");
        if (!test.Contains("def check(", StringComparison.Ordinal))
            throw record.Error("field \"test\" defines no check(candidate) function (HumanEval's format)");
        string name = record.Has("task_id") ? record.String("task_id") : $"line {record.Line}";
        return new EvalItem(record.Line, Question: name, Code: new CodeTask(prompt, test, entry));
    }

    private static EvalItem Question(JsonLinesRecord record)
    {
        string question = record.String("question");
        string reference = record.StringOrNumber("answer");
        if (AnswerExtraction.Extract(reference) is null)
            throw record.Error($"field \"answer\" (\"{reference}\") holds no number to compare with (expected e.g. \"7\" or \"… #### 7\")");
        return new EvalItem(record.Line, Question: question, Reference: reference);
    }
}
