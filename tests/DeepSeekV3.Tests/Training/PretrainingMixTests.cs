using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Objectives;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

/// <summary>Pre-training replay in fine-tuning (`dsv3 sft --mix-pretrain FILE --mix-ratio R`).</summary>
public class PretrainingMixTests
{
    private const int T = 4;

    /// <summary>Nine conversation windows of T + 1 tokens with only their last two tokens trained (stream of
    /// 9·T + 1 tokens).</summary>
    private static PackedDataset Chat()
    {
        var examples = Enumerable.Range(0, 9).Select(e => new SupervisedExample(
            [.. Enumerable.Range(0, T).Select(j => 10 * e + j)], [false, false, true, true])).ToList();
        examples.Add(new SupervisedExample([7], [false]));                               // closes the last window
        return PackedDataset.Pack(examples, new DataOptions { SequenceLength = T, ValidationFraction = 0 });
    }

    /// <summary>Pre-training text: 40 documents of 3 tokens (ids 100…219), packed with EOS (256) between them, half
    /// of them held out.</summary>
    private static PackedDataset Pretraining(double validation = 0.5) => PackedDataset.Build(
        new InMemoryDocuments([.. Enumerable.Range(0, 40).Select(d => new[] { 100 + 3 * d, 101 + 3 * d, 102 + 3 * d })]),
        new ByteTokenEncoder(), new DataOptions { SequenceLength = T, FimRate = 0, ValidationFraction = validation, Seed = 3 });

    [Fact]
    public void Mixed_windows_are_trained_on_every_token_and_attend_as_one_document()
    {
        var chat = Chat();
        var pretraining = Pretraining();
        var mixed = chat.MixPretraining(pretraining, 0.25, seed: 1);
        Assert.Equal(9, mixed.TrainWindows - mixed.MixedWindows);
        long[] all = [.. Enumerable.Range(0, (int)mixed.TrainWindows).Select(i => (long)i)];
        using var windows = mixed.Batch(all, validation: false);
        using var labels = mixed.Labels(all, validation: false)!;
        using var segments = mixed.Segments(all, validation: false)!;
        var tokens = windows.data<long>().ToArray();
        var targets = labels.data<long>().ToArray();
        var documents = segments.data<long>().ToArray();
        var pretrainingWindows = Enumerable.Range(0, (int)pretraining.TrainWindows)
            .Select(i => pretraining.Window(i, validation: false).ToArray()).ToList();
        var drawn = new List<int>();
        for (int w = 0; w < all.Length; w++)
        {
            var row = tokens.AsSpan(w * (T + 1), T + 1).ToArray();
            var rowLabels = targets.AsSpan(w * (T + 1), T + 1).ToArray();
            var rowSegments = documents.AsSpan(w * (T + 1), T + 1).ToArray();
            if (w < 9)
            {
                // Conversation windows as without the mix: prompts ignored, one example's segment.
                Assert.False(mixed.IsMixed(w, validation: false));
                Assert.Equal(chat.Window(w, validation: false).ToArray().Select(t => (long)t), row);
                Assert.Equal(3, rowLabels.Count(l => l == PackedDataset.IgnoredLabel));   // 2 prompt tokens + the next one's first
                continue;
            }
            Assert.True(mixed.IsMixed(w, validation: false));
            Assert.Equal(row, rowLabels);                                                 // every token a target
            Assert.All(rowSegments, s => Assert.Equal(PackedDataset.MixedSegment, s));    // one document per window
            int source = pretrainingWindows.FindIndex(p => p.Select(t => (long)t).SequenceEqual(row));
            Assert.True(source >= 0, $"mixed window {w} is not a training window of the pre-training data");
            drawn.Add(source);
        }
        Assert.Equal(3, drawn.Count);                                                     // 9 · 0.25 / 0.75
        Assert.Equal(drawn.Count, drawn.Distinct().Count());                              // drawn without repetition
        Assert.Equal(chat.ValidationWindows, mixed.ValidationWindows);                    // validation stays the chat's

        // A mixed window's loss is the pre-training loss of the same tokens (no mask, no document boundaries).
        using var model = TinyModels.Create(std: 0.1);
        using var _ = no_grad();
        var objective = new TrainingObjective(model, new ObjectiveOptions { MtpDepth = 1, SequenceBalanceAlpha = 0 });
        using var one = mixed.Batch([9], validation: false);
        using var trace = new RoutingTrace();
        using var labels9 = mixed.Labels([9], validation: false);
        using var segments9 = mixed.Segments([9], validation: false);
        using var masked = objective.Compute(one, 0.3, 1.0, trace, labels9, segments9);
        using var plain = objective.Compute(one, 0.3, 1.0, trace);
        Assert.Equal(plain.Main.item<float>(), masked.Main.item<float>(), 5);
        Assert.Equal(plain.Mtp.item<float>(), masked.Mtp.item<float>(), 5);
    }

    [Fact]
    public void The_cursor_serves_the_ratio_in_every_prefix_as_Megatron_blending_does()
    {
        var mixed = Chat().MixPretraining(Pretraining(), 0.25, seed: 1);                 // 9 + 3 windows
        var cursor = new DataCursor(mixed, seed: 5);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var served = cursor.Next((int)mixed.TrainWindows);
            // Every window once per epoch.
            Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i), served.Order());
            // By hand, Megatron's rule with shares 3/4 and 1/4 (ties to the first source): slot i goes to the source
            // with the larger share·(i + 1) − taken, which gives own, own, pre-training, own, repeated.
            Assert.Equal(Enumerable.Range(0, 12).Select(i => i % 4 == 2), served.Select(w => mixed.IsMixed(w, validation: false)));
        }
        // Each source in its own seeded order: two epochs differ, a second cursor repeats the first.
        var again = new DataCursor(mixed, seed: 5);
        var first = again.Next(12);
        Assert.NotEqual(first, again.Next(12));
        Assert.Equal(first, new DataCursor(mixed, seed: 5).Next(12));
    }

    [Fact]
    public void Ratio_rounds_to_whole_windows_and_bad_mixes_are_refused()
    {
        var chat = Chat();
        Assert.Equal(0, chat.MixPretraining(Pretraining(), 0, seed: 1).MixedWindows);
        Assert.Equal(6, chat.MixPretraining(Pretraining(), 0.4, seed: 1).MixedWindows);  // 9 · 0.4 / 0.6
        Assert.Equal(2, chat.MixPretraining(Pretraining(), 0.15, seed: 1).MixedWindows); // 1.59 rounds to 2
        Assert.Equal(0, chat.MixPretraining(Pretraining(), 0.05, seed: 1).MixedWindows); // 0.47 rounds to 0
        foreach (double ratio in new[] { 1.0, -0.1, double.NaN })
            Assert.Contains("expected a share", Assert.Throws<InvalidArgumentException>(() => chat.MixPretraining(Pretraining(), ratio, 1)).Message);
        // 0.8 needs 36 windows; the pre-training split has far fewer (its held-out half never counts).
        var error = Assert.Throws<InvalidArgumentException>(() => chat.MixPretraining(Pretraining(), 0.8, 1));
        Assert.Contains("36 pre-training windows needed", error.Message);
        var otherLength = PackedDataset.Build(new InMemoryDocuments([[1, 2, 3, 4, 5, 6, 7, 8, 9]]), new ByteTokenEncoder(),
            new DataOptions { SequenceLength = 2, FimRate = 0, ValidationFraction = 0 });
        Assert.Contains("expected 5", Assert.Throws<InvalidArgumentException>(() => chat.MixPretraining(otherLength, 0.25, 1)).Message);
    }
}
