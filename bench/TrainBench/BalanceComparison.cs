using DeepSeekV3.Configuration;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Objectives;

namespace DeepSeekV3.Bench;

public sealed record BalanceResult(string Balance, long Steps, double ValidationLoss, double FinalMaxVio, double MeanMaxVioTail,
    double BiasSpeed, string Command);

/// <summary>The tiny preset trained twice on the same data, seed and steps: aux-loss-free vs auxiliary-loss baseline.</summary>
public static class BalanceComparison
{
    public const int Steps = 300;

    public static IReadOnlyList<BalanceResult> Run(string[] data, ITokenEncoder encoder, string results)
    {
        var runs = new List<(BalanceResult Result, IReadOnlyList<StepMetrics> Metrics)>();
        foreach (var mode in new[] { BalanceMode.AuxFree, BalanceMode.AuxLoss })
        {
            string label = mode == BalanceMode.AuxFree ? "aux-free" : "aux-loss";
            string output = Path.Combine(results, "runs", label);
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            var options = new RunOptions
            {
                OutputDirectory = output,
                DataPaths = data,
                TokenCache = Path.Combine(".data", "tokens"),
                Config = ModelPresets.Tiny,
                Data = new DataOptions { SequenceLength = 128, Seed = 7 },
                Plots = false,
                MeasurePeak = false,
                LogEvery = 50,
                Trainer = new TrainerOptions
                {
                    Steps = Steps, BatchSequences = 16, MicroBatchSequences = 16, PeakLearningRate = 1e-3, Seed = 7,
                    EvalEvery = 25, EvalWindows = 64, BiasUpdateSpeed = 0.001,
                    Objective = new ObjectiveOptions { Balance = mode },
                },
            };
            var summary = TrainingRun.Execute(options, encoder, Console.Out);
            var metrics = MetricsLog.Read(summary.MetricsFile);
            var tail = metrics.Skip(metrics.Count * 4 / 5).ToList();
            string command = $"dsv3 train --preset tiny --data {string.Join(' ', data)} --out {output} --steps {Steps} --seq-len 128 " +
                             $"--batch-tokens 2048 --micro-batch 16 --lr 1e-3 --seed 7 --eval-every 25 --balance {label}";
            runs.Add((new BalanceResult(label, summary.Steps, summary.ValidationLoss, summary.MaxVio, tail.Average(m => m.MaxVio), 0.001, command), metrics));
        }

        var valSeries = runs.Select(r =>
        {
            var evaluated = r.Metrics.Where(m => m.ValidationLoss is double v && double.IsFinite(v)).ToList();
            return ($"{r.Result.Balance} validation loss", evaluated.Select(m => (double)m.Step).ToArray(), evaluated.Select(m => m.ValidationLoss!.Value).ToArray());
        }).ToList();
        TrainingPlots.Compare(valSeries, Path.Combine(results, "aux-free-vs-aux-loss-val-loss.png"), "Validation loss: aux-free vs aux-loss (tiny)", "cross-entropy (nats)");
        var vioSeries = runs.Select(r => ($"{r.Result.Balance} MaxVio (max over layers)",
            r.Metrics.Select(m => (double)m.Step).ToArray(), r.Metrics.Select(m => m.MaxVio).ToArray())).ToList();
        TrainingPlots.Compare(vioSeries, Path.Combine(results, "aux-free-vs-aux-loss.png"), "MaxVio: aux-free vs aux-loss (tiny)", "max load / mean load − 1");
        return runs.Select(r => r.Result).ToList();
    }
}
