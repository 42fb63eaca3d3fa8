using System.Text.Json;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Training.Metrics;

namespace DeepSeekV3.Tests.Training;

public class MetricsLogTests
{
    [Fact]
    public void Values_that_are_not_finite_are_written_as_json_null_and_read_back_as_nan()
    {
        using var dir = new TempDirectory();
        string path;
        using (var log = new MetricsLog(dir.Path, resumeStep: 0))
        {
            path = log.Path;
            log.Write(new StepMetrics { Step = 1, Loss = double.NaN, TotalLoss = double.PositiveInfinity, GradNorm = double.NegativeInfinity, Skipped = true });
            log.Write(new StepMetrics { Step = 2, Loss = 2.5, ValidationLoss = double.NaN, MaxVioByLayer = new() { ["1"] = double.NaN } });
            log.Write(new StepMetrics { Step = 3, Loss = 2.25, ValidationLoss = 2.75 });
        }
        var lines = File.ReadAllLines(path);
        foreach (string line in lines)
            using (JsonDocument.Parse(line)) { }                                        // RFC 8259: no NaN/Infinity tokens
        Assert.Contains("\"loss\":null", lines[0]);
        Assert.Contains("\"grad_norm\":null", lines[0]);
        Assert.DoesNotContain("val_loss", lines[0]);                                   // no evaluation at this step
        Assert.Contains("\"val_loss\":null", lines[1]);

        var read = MetricsLog.Read(path);
        Assert.True(double.IsNaN(read[0].Loss) && double.IsNaN(read[0].TotalLoss) && double.IsNaN(read[0].GradNorm));
        Assert.Null(read[0].ValidationLoss);
        Assert.Null(read[1].ValidationLoss);
        Assert.True(double.IsNaN(read[1].MaxVioByLayer["1"]));
        Assert.Equal(2.75, read[2].ValidationLoss);
    }
}
