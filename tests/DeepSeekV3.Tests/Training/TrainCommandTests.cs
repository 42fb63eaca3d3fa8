using System.Text.Json;
using DeepSeekV3.Cli;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Training.Metrics;

namespace DeepSeekV3.Tests.Training;

public class TrainCommandTests
{
    [Fact]
    public void Resume_after_a_crash_reproduces_the_uninterrupted_metrics_and_writes_a_model_logits_and_plot_can_read()
    {
        using var dir = new TempDirectory();
        File.WriteAllLines(dir.File("docs.jsonl"), Enumerable.Range(0, 30).Select(i => $"{{\"text\": \"line {i}: a small training document about experts and routers.\"}}"));
        string[] args = ["train", "--preset", "tiny", "--data", dir.File("docs.jsonl"), "--out", dir.File("run"), "--seq-len", "16",
                         "--batch-tokens", "64", "--micro-batch", "2", "--token-cache", dir.File("cache"), "--no-plots",
                         "--eval-every", "2", "--steps", "4", "--save-every", "2"];
        var output = new StringWriter();
        Assert.True(CliApp.Run(args, output, output) == 0, output.ToString());
        string metricsFile = dir.File(Path.Combine("run", MetricsLog.FileName));
        var uninterrupted = MetricsLog.Read(metricsFile);

        // The process "died" after step 4's metrics but before its checkpoint: only step 2's checkpoint remains.
        Directory.Delete(dir.File(Path.Combine("run", "checkpoints", "step-00000004")), recursive: true);
        Assert.True(CliApp.Run([.. args, "--resume"], output, output) == 0, output.ToString());

        Assert.Contains("resuming from", output.ToString());
        var resumed = MetricsLog.Read(metricsFile);
        Assert.Equal([1L, 2, 3, 4], resumed.Select(m => m.Step));
        Assert.Equal(uninterrupted.Select(m => m.TotalLoss), resumed.Select(m => m.TotalLoss));
        Assert.Equal(uninterrupted.Select(m => m.ValidationLoss), resumed.Select(m => m.ValidationLoss));
        Assert.All(resumed, m => Assert.True(m.MaxVioByLayer.Count > 0 && double.IsFinite(m.Loss)));

        var logits = new StringWriter();
        Assert.True(CliApp.Run(["logits", "--model", dir.File(Path.Combine("run", "model")), "--tokens", "1,2,3"], logits, logits) == 0, logits.ToString());
        Assert.Equal(0, CliApp.Run(["plot", "--out", dir.File("run")], new StringWriter(), new StringWriter()));
        Assert.True(File.Exists(dir.File(Path.Combine("run", "plots", "expert_load.png"))));
    }

    /// <summary>Arguments for a run that takes a second or two: tiny preset, seq 16, 2 sequences per step.</summary>
    private static string[] QuickRun(TempDirectory dir, string data, int steps) =>
        ["train", "--preset", "tiny", "--data", data, "--out", dir.File("run"), "--seq-len", "16", "--batch-tokens", "32",
         "--micro-batch", "2", "--token-cache", dir.File("cache"), "--no-plots", "--eval-every", "0", "--eval-windows", "2",
         "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    private static (int Code, string Text) Run(string[] args)
    {
        var output = new StringWriter();
        int code = CliApp.Run(args, output, output);
        return (code, output.ToString());
    }

    private static void AssertEveryLineIsJson(string metricsFile)
    {
        foreach (string line in File.ReadAllLines(metricsFile))
            using (JsonDocument.Parse(line)) { }
    }

    [Fact]
    public void One_plain_text_file_trains_validates_on_its_tail_and_resumes()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("notes.txt"), string.Concat(Enumerable.Range(0, 40).Select(i => $"Note {i}: experts route tokens. ")));
        var (code, text) = Run(QuickRun(dir, dir.File("notes.txt"), steps: 2));
        Assert.True(code == 0, text);
        Assert.Contains("validation: the last", text);
        string metricsFile = dir.File(Path.Combine("run", MetricsLog.FileName));
        AssertEveryLineIsJson(metricsFile);
        Assert.True(MetricsLog.Read(metricsFile)[^1].ValidationLoss is double v && double.IsFinite(v));

        (code, text) = Run([.. QuickRun(dir, dir.File("notes.txt"), steps: 3), "--resume"]);
        Assert.True(code == 0, text);
        AssertEveryLineIsJson(metricsFile);
        Assert.Equal([1L, 2, 3], MetricsLog.Read(metricsFile).Select(m => m.Step));
    }

    [Fact]
    public void A_run_without_validation_data_says_so_and_leaves_val_loss_out()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("notes.txt"), string.Concat(Enumerable.Range(0, 10).Select(i => $"Note {i}: experts route tokens. ")));
        var (code, text) = Run([.. QuickRun(dir, dir.File("notes.txt"), steps: 1), "--val-fraction", "0"]);
        Assert.True(code == 0, text);
        Assert.Contains("no validation data", text);
        Assert.Contains("val none", text);
        string metricsFile = dir.File(Path.Combine("run", MetricsLog.FileName));
        AssertEveryLineIsJson(metricsFile);
        Assert.DoesNotContain("val_loss", File.ReadAllText(metricsFile));
    }

    [Fact]
    public void Train_rejects_an_unknown_balance_mode()
    {
        var error = new StringWriter();
        int code = CliApp.Run(["train", "--preset", "tiny", "--data", "x", "--out", "y", "--balance", "magic"], new StringWriter(), error);
        Assert.Equal(2, code);
        Assert.Contains("--balance", error.ToString());
    }
}
