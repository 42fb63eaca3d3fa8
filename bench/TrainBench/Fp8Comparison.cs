using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Optimization;

namespace DeepSeekV3.Bench;

/// <summary>One training run; TokensPerSecond is its median while sharing the machine with the other run.</summary>
public sealed record Fp8Run(string Precision, long Steps, double FinalSmoothedLoss, double? ValidationLoss, double TokensPerSecond,
    double Seconds, string Command);

/// <summary>
/// The report's FP8 validation (§3.3, App. B.1, Fig. 10) at our scale: the `small` preset trained twice on the same
/// data, seed and steps, once with bfloat16 matmuls and once with the FP8 recipe on the emulated GEMM (both with
/// bfloat16 AdamW moments and float32 master weights), compared on the training loss smoothed as in Fig. 10 (EMA,
/// coefficient 0.9). Also the tokens/s of float32, bfloat16 and FP8 training at the same shape.
/// </summary>
public static class Fp8Comparison
{
    public const int SequenceLength = 128;
    public const int BatchSequences = 8;

    public static object Run(string[] data, ITokenEncoder encoder, string tokenCache, string results, int steps, IDocumentCollection documents)
    {
        var throughput = new[] { TrainingPrecision.Float32, TrainingPrecision.BFloat16, TrainingPrecision.Fp8 }
            .Select(p => Throughput.Measure("small", ModelPresets.Small, documents, encoder, SequenceLength, BatchSequences, 3,
                RecomputeMode.None, 0, p))
            .ToList();

        // The two runs train side by side, one torch thread each: on a 2-core machine that halves the wall time, and
        // their tokens/s come from the measurements above, taken one at a time.
        var runs = Task.WhenAll(new[] { (TrainingPrecision.BFloat16, "bf16"), (TrainingPrecision.Fp8, "fp8") }
            .Select(r => Task.Run(() => Train(r.Item1, r.Item2, data, encoder, tokenCache, results, steps)))).Result;
        var (bf16, fp8) = (runs[0], runs[1]);
        double gap = (fp8.Run.FinalSmoothedLoss - bf16.Run.FinalSmoothedLoss) / bf16.Run.FinalSmoothedLoss;
        Plot(bf16.Metrics, fp8.Metrics, results);
        return new
        {
            steps,
            final_loss_bf16 = bf16.Run.FinalSmoothedLoss,
            final_loss_fp8 = fp8.Run.FinalSmoothedLoss,
            relative_loss_gap = gap,
            smoothing = "EMA of the per-step training loss (main next-token CE), coefficient 0.9 (report Fig. 10)",
            tokens_per_step = SequenceLength * BatchSequences,
            runs = runs.Select(r => r.Run).ToList(),
            throughput,
        };
    }

    private static (Fp8Run Run, IReadOnlyList<StepMetrics> Metrics) Train(TrainingPrecision precision, string name, string[] data,
        ITokenEncoder encoder, string tokenCache, string results, int steps)
    {
        TorchSharp.torch.set_num_threads(1);
        string output = Path.Combine(results, "runs", $"fp8-vs-bf16-{name}");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var options = new RunOptions
        {
            OutputDirectory = output,
            DataPaths = data,
            TokenCache = tokenCache,
            Config = ModelPresets.Small,
            Data = new DataOptions { SequenceLength = SequenceLength, Seed = 7 },
            Plots = false,
            MeasurePeak = false,
            LogEvery = 10,
            Trainer = new TrainerOptions
            {
                Steps = steps,
                BatchSequences = BatchSequences,
                MicroBatchSequences = BatchSequences,
                PeakLearningRate = 1e-3,
                Seed = 7,
                EvalEvery = 0,
                EvalWindows = 32,
                Precision = precision,
                Adam = new AdamWOptions { MomentDtype = TorchSharp.torch.ScalarType.BFloat16 },
            },
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var summary = TrainingRun.Execute(options, encoder, new PrefixedLines(name, Console.Out));
        var metrics = MetricsLog.Read(summary.MetricsFile);
        var timed = metrics.Skip(1).Select(m => m.TokensPerSecond).Order().ToList();
        string command = $"dsv3 train --preset small --data {string.Join(' ', data)} --out {output} --steps {steps} --seq-len {SequenceLength} " +
                         $"--batch-tokens {SequenceLength * BatchSequences} --micro-batch {BatchSequences} --lr 1e-3 --seed 7 --eval-every 0 " +
                         $"--eval-windows 32 --precision {name} --moments bf16";
        return (new Fp8Run(name, summary.Steps, Smoothed(metrics).Last(), summary.ValidationLoss, timed[timed.Count / 2],
            clock.Elapsed.TotalSeconds, command), metrics);
    }

    /// <summary>Each line of a run's log prefixed with its name (two runs share the console).</summary>
    private sealed class PrefixedLines(string prefix, TextWriter inner) : TextWriter
    {
        public override System.Text.Encoding Encoding => inner.Encoding;
        public override void WriteLine(string? value) => inner.WriteLine($"[{prefix}] {value}");
        public override void Write(char value) => inner.Write(value);
    }

    /// <summary>EMA with coefficient 0.9, started at the first loss (report Fig. 10's smoothing).</summary>
    public static double[] Smoothed(IReadOnlyList<StepMetrics> metrics)
    {
        var result = new double[metrics.Count];
        double ema = metrics.Count > 0 ? metrics[0].Loss : double.NaN;
        for (int i = 0; i < metrics.Count; i++)
            result[i] = ema = 0.9 * ema + 0.1 * metrics[i].Loss;
        return result;
    }

    private static void Plot(IReadOnlyList<StepMetrics> bf16, IReadOnlyList<StepMetrics> fp8, string results)
    {
        double[] Steps(IReadOnlyList<StepMetrics> m) => m.Select(s => (double)s.Step).ToArray();
        double[] a = Smoothed(bf16), b = Smoothed(fp8);
        TrainingPlots.Compare([("BF16 (EMA 0.9)", Steps(bf16), a), ("FP8, emulated (EMA 0.9)", Steps(fp8), b)],
            Path.Combine(results, "fp8-vs-bf16.png"), "Training loss: FP8 vs BF16 (small preset)", "cross-entropy (nats)");
        int n = Math.Min(a.Length, b.Length);
        TrainingPlots.Compare([("(FP8 − BF16) / BF16, smoothed losses, %", Steps(bf16).Take(n).ToArray(),
                Enumerable.Range(0, n).Select(i => 100 * (b[i] - a[i]) / a[i]).ToArray())],
            Path.Combine(results, "fp8-vs-bf16-gap.png"), "Relative loss gap of FP8 against BF16 (small preset)", "%");
    }
}
