using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Objectives;

namespace DeepSeekV3.Tests.Training;

/// <summary>What training is for: the loss falls, and auxiliary-loss-free balancing balances the experts.</summary>
public class TrainingOutcomeTests
{
    private const int Steps = 20;

    /// <summary>Byte-level sentences over a ten-word vocabulary: quickly learnable; a tenth of them held out.</summary>
    private static PackedDataset Data()
    {
        string[] words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "runs"];
        var random = new Random(1);
        var docs = Enumerable.Range(0, 120)
            .Select(_ => string.Join(' ', Enumerable.Range(0, 12).Select(_ => words[random.Next(words.Length)])) + ".")
            .Select(text => System.Text.Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray())
            .ToList();
        return PackedDataset.Build(new InMemoryDocuments(docs), new ByteTokenEncoder(),
            new DataOptions { SequenceLength = 16, FimRate = 0, ValidationFraction = 0.1, Seed = 2 });
    }

    private static readonly TrainerOptions Options = new()
    {
        Steps = Steps,
        BatchSequences = 8,
        MicroBatchSequences = 8,
        BatchRamp = false,
        PeakLearningRate = 3e-3,
        WarmupSteps = 3,
        EvalWindows = 16,
    };

    [Fact]
    public void Twenty_steps_lower_the_validation_loss_by_more_than_one_and_a_half_nats()
    {
        using var model = TinyModels.Create(seed: 4, std: 0.006);
        using var trainer = new Trainer(model, Data(), Options);
        double before = trainer.Evaluate()!.Value;                                              // ≈ ln 512 = 6.24
        for (int i = 0; i < Steps; i++)
            trainer.Step();
        double after = trainer.Evaluate()!.Value;
        // Measured: 6.24 → 2.90. Step-to-step noise is ~0.1 nat; without updates (learning rate 0) the loss stays
        // at 6.24, and an update of the wrong sign raises it.
        Assert.True(after < before - 1.5, $"validation loss {before:F3} → {after:F3}");
    }

    /// <summary>Mean MaxVio (report §4.5.3) of the MoE layers over the last eight steps of a run with bias update
    /// speed γ.</summary>
    private static double LateMaxVio(double gamma)
    {
        // std 0.1 gives the routers a strong initial preference, and training reinforces it: without balancing,
        // routing collapses toward K of the 8 experts (MaxVio 3 is every token on the same 2).
        using var model = TinyModels.Create(seed: 4, std: 0.1);
        var options = Options with
        {
            BiasUpdateSpeed = gamma,
            Objective = new ObjectiveOptions { SequenceBalanceAlpha = 0, MtpDepth = 0 },
        };
        using var trainer = new Trainer(model, Data(), options);
        return Enumerable.Range(0, Steps).Select(_ => trainer.Step().MaxVio).TakeLast(8).Average();
    }

    [Fact]
    public void Auxiliary_loss_free_bias_updates_lower_max_vio_against_no_balancing_on_the_same_seed()
    {
        // Same seed, data and learning rate; only γ differs, and neither run has a balance loss (α = 0).
        double unbalanced = LateMaxVio(0);
        double balanced = LateMaxVio(0.03);
        // Measured: 0.84 with γ = 0.03 against 1.75 without (and 0.57 against 2.6 in a variant of this run): the
        // sign rule moves a bias by γ per step, and 0.03 catches up with the router's drift within 20 steps. Small
        // rounding differences change a run's trajectory, so the bound is a ratio with a margin: no update at all
        // gives exactly the unbalanced run (ratio 1), and an update of the wrong sign speeds the collapse (≥ 1).
        Assert.True(balanced < 0.7 * unbalanced, $"MaxVio {balanced:F3} with bias updates, {unbalanced:F3} without");
    }
}
