using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training.Objectives;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class MtpObjectiveTests
{
    [Fact]
    public void Mtp_loss_equals_a_hand_computed_case_on_a_tiny_model()
    {
        using var model = TinyModels.Create();
        using var windows = TinyModels.Tokens(2, 7, 512);                               // w_0..w_6, T = 6
        var objective = new TrainingObjective(model, new ObjectiveOptions { MtpDepth = 1, SequenceBalanceAlpha = 0 });
        using var trace = new RoutingTrace();
        using var parts = objective.Compute(windows, mtpWeight: 0.3, scale: 1.0, trace);

        // By hand, position by position: depth 1 at position i reads h_i and t_{i+1} = w_{i+1}, predicts w_{i+2}.
        using var _ = no_grad();
        var w = windows.data<long>().ToArray();
        var main = model.Forward(windows.narrow(1, 0, 6), new ForwardContext { Mode = AttentionMode.Naive });
        double mainSum = 0, mtpSum = 0;
        var mtpOut = model.ForwardMtp(1, main.Hidden.narrow(1, 0, 5), windows.narrow(1, 1, 5), new ForwardContext { Mode = AttentionMode.Naive });
        for (int b = 0; b < 2; b++)
        {
            for (int i = 0; i < 6; i++)
                mainSum -= main.Logits[b, i].log_softmax(-1)[w[b * 7 + i + 1]].item<float>();
            for (int i = 0; i < 5; i++)
                mtpSum -= mtpOut.Logits[b, i].log_softmax(-1)[w[b * 7 + i + 2]].item<float>();
        }
        double mainLoss = mainSum / 12, mtpLoss = mtpSum / 10;
        Assert.Equal(mainLoss, parts.Main.item<float>(), 4);
        Assert.Equal(mtpLoss, parts.Mtp.item<float>(), 4);
        Assert.Equal(mainLoss + 0.3 * mtpLoss, parts.Total.item<float>(), 4);        // L = L_main + (λ/D) Σ L_MTP^k
        Assert.Equal(3, trace.Records.Count);                                        // MoE layers 1, 2 and MTP layer 3
    }

    /// <summary>−log softmax(logits)[target], in double.</summary>
    private static double CrossEntropy(double[] logits, long target)
    {
        double max = logits.Max();
        return Math.Log(logits.Sum(l => Math.Exp(l - max))) + max - logits[target];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Mtp_loss_is_the_mean_over_depths_of_cross_entropies_from_a_double_precision_reference(int depth)
    {
        // L_MTP = (λ/D) Σ_k L_MTP^k (eq. 25), L_MTP^k = mean over i of −log P^k_i[t_{i+1+k}] (eq. 24), with the
        // probabilities from ReferenceModel (eqs. 21-23 in double precision), not from the model's own forward.
        const int length = 6;                                                          // T; windows hold T + 1 tokens
        const double lambda = 0.3;
        using var model = MtpReferenceTests.Create(MtpReferenceTests.TwoMtpModules);
        var reference = new ReferenceModel(model);
        using var windows = TinyModels.Tokens(2, length + 1, model.Config.VocabSize, seed: 12);
        var objective = new TrainingObjective(model, new ObjectiveOptions { MtpDepth = depth, SequenceBalanceAlpha = 0 });
        using var trace = new RoutingTrace();
        using var parts = objective.Compute(windows, mtpWeight: lambda, scale: 1.0, trace);

        double main = 0;
        var mtpByDepth = new double[depth];
        for (int b = 0; b < 2; b++)
        {
            var w = windows[b].data<long>().ToArray();
            var (previous, logits) = reference.Main(w[..length]);                      // h^0 for positions 0..T−1
            for (int i = 0; i < length; i++)
                main += CrossEntropy(logits[i], w[i + 1]) / (2 * length);
            for (int k = 1; k <= depth; k++)
            {
                int s = length - k;                                                    // positions 0..T−1−k
                var (hidden, mtpLogits) = reference.Mtp(k, previous[..s], w[k..(k + s)]);
                for (int i = 0; i < s; i++)
                    mtpByDepth[k - 1] += CrossEntropy(mtpLogits[i], w[i + k + 1]) / (2 * s);
                previous = hidden;
            }
        }
        double mtp = mtpByDepth.Average();
        // fp32 losses near 6.5 against double: within 1e-5; 1e-4 leaves a margin (see MtpReferenceTests).
        Assert.Equal(main, parts.Main.item<float>(), 1e-4);
        Assert.Equal(mtp, parts.Mtp.item<float>(), 1e-4);
        Assert.Equal(main + lambda * mtp, parts.Total.item<float>(), 1e-4);
    }

    [Fact]
    public void Recomputation_gives_the_same_gradients_as_storing_activations()
    {
        var reference = Gradients(RecomputeMode.None);
        foreach (var mode in new[] { RecomputeMode.Block, RecomputeMode.NormMla })
        {
            var recomputed = Gradients(mode);
            Assert.Equal(reference.Keys.Order(), recomputed.Keys.Order());
            foreach (var (name, grad) in reference)
                Assert.True(grad.Zip(recomputed[name]).All(p => Math.Abs(p.First - p.Second) <= 1e-5 + 1e-4 * Math.Abs(p.First)),
                            $"{mode}: gradient of {name} differs");
        }
    }

    private static Dictionary<string, float[]> Gradients(RecomputeMode mode)
    {
        using var model = TinyModels.Create();
        model.train();
        using var windows = TinyModels.Tokens(2, 9, 512);
        var objective = new TrainingObjective(model, new ObjectiveOptions { Recompute = mode, Balance = BalanceMode.AuxLoss, AuxLossAlpha = 0.1 });
        using var trace = new RoutingTrace();
        using var parts = objective.Compute(windows, 0.3, 1.0, trace);
        parts.Total.backward();
        return model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.reshape(-1).data<float>().ToArray());
    }
}
