using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Mtp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class MtpSelfDistillationTests
{
    private static PackedDataset RandomText(int vocab, int documents, int length, long seed)
    {
        var rng = new DeepSeekV3.Randomness.SplitMix64(seed);
        var examples = Enumerable.Range(0, documents).Select(_ =>
        {
            var tokens = Enumerable.Range(0, length).Select(_ => (int)rng.NextLong(vocab)).ToArray();
            return new SupervisedExample(tokens, tokens.Select(_ => true).ToArray());
        }).ToList();
        return PackedDataset.Pack(examples, new DataOptions { SequenceLength = 8, FimRate = 0, ValidationFraction = 0 });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Main_weights_stay_bit_identical_while_the_mtp_loss_falls(bool soft)
    {
        using var model = TinyModels.Create();
        var data = RandomText(model.Config.VocabSize, documents: 2, length: 17, seed: 3);   // 4 windows of 9
        int main = model.Config.NumHiddenLayers;
        bool IsMtp(string name) => name.StartsWith($"model.layers.{main}.", StringComparison.Ordinal);
        var before = model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        var losses = new List<double>();
        using (var tuner = new MtpSelfDistillation(model, new MtpTuneOptions { Steps = 10, BatchSequences = 4, LearningRate = 1e-2, Warmup = 0, SoftTargets = soft }))
        {
            Assert.All(tuner.TrainedNames, name => Assert.True(IsMtp(name), name));
            tuner.Run(data, (_, loss, _) => losses.Add(loss));
        }
        foreach (var (name, tensor) in model.state_dict())
        {
            if (IsMtp(name)) continue;
            Assert.True(tensor.equal(before[name]).all().item<bool>(), $"{name} changed");                  // bit for bit
        }
        Assert.Contains(model.state_dict(), p => IsMtp(p.Key) && !p.Value.equal(before[p.Key]).all().item<bool>());
        Assert.Equal(10, losses.Count);
        Assert.True(losses.TakeLast(3).Average() < 0.85 * losses[0], $"loss {losses[0]:F3} → {losses[^1]:F3}");
        foreach (var t in before.Values) t.Dispose();
    }

    [Fact]
    public void Greedy_loss_is_the_cross_entropy_to_the_main_models_argmax_at_the_next_position()
    {
        using var model = TinyModels.Create();
        using var windows = TinyModels.Tokens(2, 9, model.Config.VocabSize, seed: 5);      // T = 8
        using var tuner = new MtpSelfDistillation(model, new MtpTuneOptions());
        var (loss, agreement) = tuner.Loss(windows);

        // By hand: depth 1 at position i (0..6) reads h_i and w_{i+1}; its target is the main model's argmax at i + 1.
        using var _ = no_grad();
        var context = new ForwardContext { Mode = AttentionMode.Naive };
        var mainOut = model.Forward(windows.narrow(1, 0, 8), context);
        var mtpOut = model.ForwardMtp(1, mainOut.Hidden.narrow(1, 0, 7), windows.narrow(1, 1, 7), context);
        double sum = 0;
        int same = 0;
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < 7; i++)
            {
                long target = mainOut.Logits[b, i + 1].argmax().item<long>();
                sum -= mtpOut.Logits[b, i].log_softmax(-1)[target].item<float>();
                if (mtpOut.Logits[b, i].argmax().item<long>() == target) same++;
            }
        Assert.Equal(sum / 14, loss.item<float>(), 4);
        Assert.Equal(same / 14.0, agreement, 5);
    }
}
