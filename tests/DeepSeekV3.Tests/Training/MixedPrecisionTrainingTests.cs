using DeepSeekV3.Precision;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;

namespace DeepSeekV3.Tests.Training;

public class MixedPrecisionTrainingTests
{
    private static PackedDataset Data()
    {
        var docs = Enumerable.Range(0, 60)
            .Select(d => System.Text.Encoding.UTF8.GetBytes($"document {d}: the quick brown fox {d * 7 % 13} jumps over {d % 5} dogs").Select(b => (int)b).ToArray())
            .ToList();
        return PackedDataset.Build(new InMemoryDocuments(docs), new ByteTokenEncoder(), new DataOptions { SequenceLength = 32, FimRate = 0, Seed = 3 });
    }

    private static List<double> Losses(TrainingPrecision precision, int steps)
    {
        var options = new TrainerOptions
        {
            Steps = steps,
            BatchSequences = 8,
            MicroBatchSequences = 8,
            BatchRamp = false,
            PeakLearningRate = 3e-3,
            WarmupSteps = 2,
            Precision = precision,
        };
        using var model = TinyModels.Create(seed: 4, std: 0.02);
        using var trainer = new Trainer(model, Data(), options);
        return Enumerable.Range(0, steps).Select(_ => trainer.Step().Loss).ToList();
    }

    [Fact]
    public void BFloat16_and_fp8_loss_curves_follow_the_float32_curve_on_the_tiny_preset()
    {
        const int steps = 12;
        var fp32 = Losses(TrainingPrecision.Float32, steps);
        var bf16 = Losses(TrainingPrecision.BFloat16, steps);
        var fp8 = Losses(TrainingPrecision.Fp8, steps);
        Assert.True(fp32[^1] < fp32[0] - 0.5, $"the run learns: {fp32[0]} → {fp32[^1]}");
        for (int i = 0; i < steps; i++)
        {
            Assert.True(Math.Abs(bf16[i] - fp32[i]) / fp32[i] < 0.01, $"step {i + 1}: bf16 {bf16[i]} vs fp32 {fp32[i]}");
            Assert.True(Math.Abs(fp8[i] - fp32[i]) / fp32[i] < 0.02, $"step {i + 1}: fp8 {fp8[i]} vs fp32 {fp32[i]}");
        }
    }
}
