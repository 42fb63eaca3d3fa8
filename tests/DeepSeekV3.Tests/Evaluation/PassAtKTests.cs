using System.Text.Json;
using DeepSeekV3.Evaluation;
using DeepSeekV3.IO;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Cli;
using DeepSeekV3.Tests.Inference;

namespace DeepSeekV3.Tests.Evaluation;

public class PassAtKTests
{
    private static readonly CodeTask Add = new(
        "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n",
        "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n",
        "add");

    // By hand, 1 − C(n−c, k) / C(n, k):
    //   n 5, c 2, k 1: 1 − 3/5 = 0.4;   k 2: 1 − C(3,2)/C(5,2) = 1 − 3/10 = 0.7;   k 4: C(3,4) = 0 → 1
    //   n 10, c 3, k 5: 1 − C(7,5)/C(10,5) = 1 − 21/252;   n 10, c 0: 0;   n 10, c 10, k 1: 1
    //   n 200, c 1, k 100: 1 − C(199,100)/C(200,100) = 1 − 100/200 = 0.5 (the binomials themselves overflow a double)
    [Theory]
    [InlineData(5, 2, 1, 0.4)]
    [InlineData(5, 2, 2, 0.7)]
    [InlineData(5, 2, 4, 1.0)]
    [InlineData(10, 3, 5, 1 - 21.0 / 252)]
    [InlineData(10, 0, 3, 0.0)]
    [InlineData(10, 10, 1, 1.0)]
    [InlineData(200, 1, 100, 0.5)]
    public void Estimator_matches_hand_computed_values(int n, int c, int k, double expected) =>
        Assert.Equal(expected, PassAtK.Estimate(n, c, k), 12);

    [Theory]
    [InlineData(5, 2, 6)]
    [InlineData(5, 2, 0)]
    [InlineData(5, 6, 1)]
    [InlineData(0, 0, 1)]
    public void Estimator_rejects_impossible_counts(int n, int c, int k) =>
        Assert.Throws<InvalidArgumentException>(() => PassAtK.Estimate(n, c, k));

    [Fact]
    public void Sandbox_scores_correct_wrong_timing_out_and_crashing_completions()
    {
        var sandbox = new CodeSandbox(TimeSpan.FromSeconds(2));
        Assert.Equal(CodeOutcome.Passed, sandbox.Run(Add.Program("    return a + b\n")));
        Assert.Equal(CodeOutcome.Failed, sandbox.Run(Add.Program("    return a - b\n")));
        Assert.Equal(CodeOutcome.TimedOut, sandbox.Run(Add.Program("    while True:\n        pass\n")));
        Assert.Equal(CodeOutcome.Error, sandbox.Run(Add.Program("    return a + undefined_name\n")));
        Assert.Equal(CodeOutcome.Error, sandbox.Run(Add.Program("    return a +\n")));
        // Leaving early never reaches the tests: neither exit code 0 nor a skipped check passes.
        Assert.Equal(CodeOutcome.Error, sandbox.Run(Add.Program("    import os\n    os._exit(0)\n")));
        Assert.Equal(CodeOutcome.Error, sandbox.Run("import sys\nsys.exit(0)\n"));
    }

    [Fact]
    public void Sandbox_limits_memory_processes_and_output()
    {
        var sandbox = new CodeSandbox(TimeSpan.FromSeconds(3), memoryBytes: 128L << 20);
        Assert.Equal(CodeOutcome.Error, sandbox.Run(Add.Program("    x = bytearray(512 << 20)\n    return a + b\n")));
        Assert.Equal(CodeOutcome.Error, sandbox.Run(Add.Program("    import subprocess\n    subprocess.run(['true'])\n    return a + b\n")));
        Assert.Equal(CodeOutcome.Error, sandbox.Run(Add.Program("    print('x' * (4 << 20))\n    return a + b\n")));
        // A wall-clock stall (sleep uses no CPU) is cut by the timer, not the CPU limit.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(CodeOutcome.TimedOut, new CodeSandbox(TimeSpan.FromSeconds(1)).Run(Add.Program("    import time\n    time.sleep(30)\n")));
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 10);
    }

    [Fact]
    public void Shipped_code_tasks_pass_with_their_canonical_solutions_and_fail_without()
    {
        string path = Path.Combine(Path.GetFullPath(Path.Combine(BundledModelTests.ModelDirectory(), "..", "..")), "data", "eval", "code.jsonl");
        var task = EvalTask.Load(path, EvalKind.Code);
        var sandbox = new CodeSandbox(TimeSpan.FromSeconds(5));
        var solutions = JsonLinesRecord.Read(path).Select(r => r.String("canonical_solution")).ToList();
        Assert.Equal(12, task.Items.Count);
        foreach (var (item, solution) in task.Items.Zip(solutions))
        {
            Assert.True(sandbox.Run(item.Code!.Program(solution)) == CodeOutcome.Passed, item.Question);
            Assert.Equal(CodeOutcome.Failed, sandbox.Run(item.Code!.Program("    return None\n")));
        }
    }

    [Theory]
    [InlineData("{\"prompt\": \"def f():\\n\", \"test\": \"def check(candidate):\\n    pass\\n\"}", "no field \"entry_point\"")]
    [InlineData("{\"prompt\": \"def f():\\n\", \"test\": \"assert f() == 1\", \"entry_point\": \"f\"}", "field \"test\" defines no check(candidate) function")]
    [InlineData("{\"prompt\": \"def f():\\n\", \"test\": \"def check(candidate):\\n    pass\\n\", \"entry_point\": \"f()\"}", "field \"entry_point\" (\"f()\") is not a Python identifier")]
    [InlineData("{\"prompt\": \"  \", \"test\": \"def check(candidate):\\n    pass\\n\", \"entry_point\": \"f\"}", "field \"prompt\" is empty")]
    [InlineData("{\"prompt\": 3, \"test\": \"def check(candidate):\\n    pass\\n\", \"entry_point\": \"f\"}", "field \"prompt\" is a number, expected a string")]
    public void Malformed_code_items_name_file_line_and_field(string line, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("code.jsonl");
        File.WriteAllText(path, "{\"prompt\": \"def f():\\n\", \"test\": \"def check(candidate):\\n    pass\\n\", \"entry_point\": \"f\"}\n" + line + "\n");
        var error = Assert.Throws<DataFormatException>(() => EvalTask.Load(path, EvalKind.Code));
        Assert.StartsWith($"{path}:2: ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Eval_command_samples_n_completions_per_task_reproducibly()
    {
        using var dir = new TempDirectory();
        string model = BundledModelTests.ModelDirectory();
        string task = Path.Combine(Path.GetFullPath(Path.Combine(model, "..", "..")), "data", "eval", "code.jsonl");
        string[] Args(string json) => ["eval", "--model", model, "--task", task, "--kind", "code", "--limit", "2", "--samples", "3",
            "--pass-k", "1", "3", "--temperature", "0.8", "--max-tokens", "12", "--seed", "5", "--json", json];
        var (code, text, err) = CliTests.Run(Args(dir.File("a.json")));
        Assert.True(code == 0, err);
        Assert.Contains("| code | code | 2 | 0 | pass@3 |", text);
        (code, _, err) = CliTests.Run(Args(dir.File("b.json")));
        Assert.True(code == 0, err);
        using var a = JsonDocument.Parse(File.ReadAllText(dir.File("a.json")));
        using var b = JsonDocument.Parse(File.ReadAllText(dir.File("b.json")));
        var samples = a.RootElement.GetProperty("samples");
        Assert.Equal(6, samples.GetArrayLength());
        Assert.Equal(samples.GetRawText(), b.RootElement.GetProperty("samples").GetRawText());
        // Sampled at T 0.8, the three completions of a task are not all the same text.
        Assert.True(samples.EnumerateArray().Take(3).Select(s => s.GetProperty("generated").GetString()).Distinct().Count() > 1);
        var (bad, _, error) = CliTests.Run("eval", "--model", model, "--task", task, "--kind", "code", "--samples", "2", "--pass-k", "5");
        Assert.Equal(2, bad);
        Assert.Contains("--pass-k 5: each k must be in [1, --samples = 2]", error);
    }
}
