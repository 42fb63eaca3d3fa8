using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Objectives;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class DocumentMaskingTests
{
    [Fact]
    public void Positions_restart_at_every_document()
    {
        using var segments = tensor(new long[] { 0, 0, 0, 1, 1, 2, 5, 5, 5, 5, 5, 5 }, [2, 6]);
        using var positions = ForwardContext.DocumentPositions(segments);
        Assert.Equal([0L, 1, 2, 0, 1, 0, 0, 1, 2, 3, 4, 5], positions.data<long>().ToArray());
    }

    private static readonly SupervisedExample A = new([5, 17, 3, 99, 42, 7, 2], [false, false, false, true, true, true, true]);
    private static readonly SupervisedExample B = new([5, 8, 61, 200, 13, 2], [false, false, true, true, true, true]);

    /// <summary>(Σ main NLL, Σ depth-1 MTP NLL) over trained targets: each mean times its number of targets.</summary>
    private static (double Main, double Mtp) Sums(DeepSeekV3ForCausalLM model, PackedDataset data, bool mask)
    {
        var objective = new TrainingObjective(model, new ObjectiveOptions { MtpDepth = 1, SequenceBalanceAlpha = 0 });
        using var windows = data.Batch([0], validation: false);
        using var labels = data.Labels([0], validation: false)!;
        using var segments = data.Segments([0], validation: false)!;
        using var trace = new RoutingTrace();
        using var parts = objective.Compute(windows, 1.0, 1.0, trace, labels, mask ? segments : null);
        // Targets that count: trained, and (with the mask) in the same example as the input position.
        long Count(int distance)
        {
            var l = labels.data<long>().ToArray();
            var s = segments.data<long>().ToArray();
            return Enumerable.Range(distance, l.Length - distance)
                .Count(j => l[j] != PackedDataset.IgnoredLabel && (!mask || s[j] == s[j - distance]));
        }
        return (parts.Main.item<float>() * Count(1), parts.Mtp.item<float>() * Count(2));
    }

    [Fact]
    public void Loss_of_a_packed_window_equals_the_sum_of_the_separate_conversations_losses()
    {
        using var model = TinyModels.Create(std: 0.1);
        using var _ = no_grad();
        var packed = PackedDataset.Pack([A, B], new DataOptions { SequenceLength = 12, FimRate = 0, ValidationFraction = 0 });
        var alone = new[] { A, B }.Select(e => Sums(model,
            PackedDataset.Pack([e], new DataOptions { SequenceLength = e.Tokens.Length - 1, FimRate = 0, ValidationFraction = 0 }), mask: true)).ToList();
        var together = Sums(model, packed, mask: true);
        Assert.Equal(alone.Sum(x => x.Main), together.Main, 3);
        Assert.Equal(alone.Sum(x => x.Mtp), together.Mtp, 3);

        // Without the mask B reads A (and sits at positions 7..12): the same window scores differently.
        var unmasked = Sums(model, packed, mask: false);
        Assert.True(Math.Abs(unmasked.Main - together.Main) > 1e-3, $"{unmasked.Main} vs {together.Main}");
    }

    [Fact]
    public void Segments_follow_the_packed_examples_and_pre_training_data_has_none()
    {
        var packed = PackedDataset.Pack([A, B, A], new DataOptions { SequenceLength = 8, FimRate = 0, ValidationFraction = 0 });
        using var segments = packed.Segments([0, 1], validation: false)!;
        Assert.Equal([0L, 0, 0, 0, 0, 0, 0, 1, 1, /* window 1 starts at token 8 */ 1, 1, 1, 1, 1, 2, 2, 2, 2],
            segments.data<long>().ToArray());
        var text = PackedDataset.Build(new InMemoryDocuments([[1, 2, 3, 4, 5, 6]]), new ByteTokenEncoder(),
            new DataOptions { SequenceLength = 3, FimRate = 0, ValidationFraction = 0 });
        Assert.Null(text.Segments([0], validation: false));
    }
}
