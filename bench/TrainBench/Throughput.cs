using System.Diagnostics;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Objectives;

namespace DeepSeekV3.Bench;

public sealed record ThroughputResult(string Preset, string Recompute, int SequenceLength, long TokensPerStep,
    double TokensPerSecond, double Mfu, double PeakFlops, double StepMemoryMb, string Precision = "Float32");

/// <summary>
/// Times training steps (after one warm-up step) and how far resident memory rises above its level before them.
/// The machine is shared, so the peak matmul rate is measured right before and right after the timed steps and
/// the larger value (together with the value from program start) is the MFU denominator: the float32 peak, or the
/// bfloat16 one for bfloat16 training (<see cref="TrainerOptions.PeakDtype"/>).
/// </summary>
public static class Throughput
{
    public static ThroughputResult Measure(string name, ModelConfig config, IDocumentCollection documents, ITokenEncoder encoder,
        int seqLen, int sequences, int steps, RecomputeMode recompute, double startPeak,
        TrainingPrecision precision = TrainingPrecision.Float32)
    {
        var data = PackedDataset.Build(documents, encoder, new DataOptions { SequenceLength = seqLen, Seed = 1 });
        using var model = new DeepSeekV3ForCausalLM(config);
        WeightInitializer.Initialize(model, 1);
        var options = new TrainerOptions
        {
            Steps = 1000,
            BatchSequences = sequences,
            MicroBatchSequences = sequences,
            BatchRamp = false,
            EvalEvery = 0,
            Objective = new ObjectiveOptions { Recompute = recompute },
            Precision = precision,
        };
        using var trainer = new Trainer(model, data, options);
        trainer.Step();                                                                    // warm-up
        GC.Collect();
        double before = TrainingFlops.MeasurePeakMatmul(1024, 12, options.PeakDtype);
        double baseline = ResetPeakRss();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) trainer.Step();
        double seconds = clock.Elapsed.TotalSeconds;
        double stepMemory = Status("VmHWM:") - baseline;
        double peakFlops = Math.Max(startPeak, Math.Max(before, TrainingFlops.MeasurePeakMatmul(1024, 12, options.PeakDtype)));
        long tokens = (long)sequences * seqLen;
        double perSecond = tokens * steps / seconds;
        double flops = TrainingFlops.PerToken(config, seqLen, config.NumNextnPredictLayers);
        var result = new ThroughputResult(name, recompute.ToString(), seqLen, tokens, perSecond, perSecond * flops / peakFlops, peakFlops, stepMemory,
            precision.ToString());
        Console.WriteLine($"{name} {precision} recompute={recompute}: {perSecond:F0} tokens/s, MFU {result.Mfu * 100:F2}% of {peakFlops / 1e9:F1} GFLOP/s, " +
                          $"memory above baseline {stepMemory:F0} MB");
        return result;
    }

    // Linux: writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS, which is returned (MB).
    private static double ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Status("VmRSS:");
    }

    private static double Status(string field)
    {
        if (!File.Exists("/proc/self/status")) return double.NaN;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
    }
}
