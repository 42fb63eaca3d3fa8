using DeepSeekV3.Configuration;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Objectives;

namespace DeepSeekV3.Bench;

public sealed record BalanceResult(string Balance, long Steps, double? ValidationLoss, double FinalMaxVio, double MeanMaxVioTail,
    double BiasSpeed, string Command);

/// <summary>
/// The tiny preset trained on the same data, seed and steps three times: aux-loss-free at the report's γ = 0.001,
/// aux-loss-free at γ = 0.01 (short runs at a high LR move the router faster than 0.001 per step can follow),
/// and the auxiliary-loss baseline (α = 0.001, no bias updates).
/// </summary>
public static class BalanceComparison
{
    public static IReadOnlyList<BalanceResult> Run(string[] data, ITokenEncoder encoder, string tokenCache, string results, int steps)
    {
        var runs = new List<(BalanceResult Result, IReadOnlyList<StepMetrics> Metrics)>();
        foreach (var (mode, gamma) in new[] { (BalanceMode.AuxFree, 0.001), (BalanceMode.AuxFree, 0.01), (BalanceMode.AuxLoss, 0.0) })
        {
            string label = mode == BalanceMode.AuxFree ? $"aux-free-g{gamma}" : "aux-loss";
            string output = Path.Combine(results, "runs", label);
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
            var options = new RunOptions
            {
                OutputDirectory = output,
                DataPaths = data,
                TokenCache = tokenCache,
                Config = ModelPresets.Tiny,
                Data = new DataOptions { SequenceLength = 64, Seed = 7 },
                Plots = false,
                MeasurePeak = false,
                LogEvery = 25,
                Trainer = new TrainerOptions
                {
                    Steps = steps, BatchSequences = 16, MicroBatchSequences = 16, PeakLearningRate = 1e-3, Seed = 7,
                    EvalEvery = 20, EvalWindows = 32, BiasUpdateSpeed = gamma,
                    Objective = new ObjectiveOptions { Balance = mode },
                },
            };
            var summary = TrainingRun.Execute(options, encoder, Console.Out);
            var metrics = MetricsLog.Read(summary.MetricsFile);
            var tail = metrics.Skip(metrics.Count * 4 / 5).ToList();
            string command = $"dsv3 train --preset tiny --data {string.Join(' ', data)} --out {output} --steps {steps} --seq-len 64 " +
                             $"--batch-tokens 1024 --micro-batch 16 --lr 1e-3 --seed 7 --eval-every 20 --eval-windows 32 " +
                             (mode == BalanceMode.AuxFree ? $"--balance aux-free --bias-speed {gamma}" : "--balance aux-loss --aux-alpha 0.001");
            runs.Add((new BalanceResult(label, summary.Steps, summary.ValidationLoss, summary.MaxVio, tail.Average(m => m.MaxVio), gamma, command), metrics));
        }

        Plot(runs.Select(r => (r.Result.Balance, r.Metrics)).ToList(), results);
        return runs.Select(r => r.Result).ToList();
    }

    /// <summary>Validation-loss and MaxVio curves of the runs, one PNG each.</summary>
    public static void Plot(IReadOnlyList<(string Label, IReadOnlyList<StepMetrics> Metrics)> runs, string results)
    {
        var valSeries = runs.Select(r =>
        {
            var evaluated = r.Metrics.Where(m => m.ValidationLoss is double v && double.IsFinite(v)).ToList();
            return ($"{r.Label} validation loss", evaluated.Select(m => (double)m.Step).ToArray(), evaluated.Select(m => m.ValidationLoss!.Value).ToArray());
        }).ToList();
        TrainingPlots.Compare(valSeries, Path.Combine(results, "aux-free-vs-aux-loss-val-loss.png"), "Validation loss: aux-free vs aux-loss (tiny)", "cross-entropy (nats)");
        var vioSeries = runs.Select(r => ($"{r.Label} MaxVio (max over layers)",
            r.Metrics.Select(m => (double)m.Step).ToArray(), r.Metrics.Select(m => m.MaxVio).ToArray())).ToList();
        TrainingPlots.Compare(vioSeries, Path.Combine(results, "aux-free-vs-aux-loss.png"), "MaxVio: aux-free vs aux-loss (tiny)", "max load / mean load − 1");
    }
}
