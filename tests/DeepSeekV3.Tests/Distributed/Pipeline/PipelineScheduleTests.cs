using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Tests.Distributed.Pipeline;

public class PipelineScheduleTests
{
    // The DualPipe README figure / report Fig. 5 (8 PP ranks, 20 micro-batches), as transcribed in the parallel-fp8
    // notes §2.8 and checked there against the PNG: rank 0 starts with forwards 0–6, then a reverse forward and three
    // (B, W, F) triples; rank 7 starts with 7 reverse forwards. Ranks 4–7 are ranks 3–0 with a and b swapped.
    private static readonly string[] FigureFirstHalf =
    [
        "rank 0: Fa0 Fa1 Fa2 Fa3 Fa4 Fa5 Fa6 Fb0 Bb0z W Fb1 Bb1z W Fb2 Bb2z W Fb3 [Fa7&Bb3] [Fb4&Ba0] [Fa8&Bb4] [Fb5&Ba1] [Fa9&Bb5] [Fb6&Ba2] Bb6 [Fb7&Ba3] Bb7 [Fb8&Ba4] Bb8 [Fb9&Ba5] Bb9 Ba6z W Ba7z W Ba8z W Ba9z W",
        "rank 1: Fa0 Fa1 Fa2 Fa3 Fa4 Fb0 Fa5 Fb1 Bb0z W Fb2 Bb1z W Fb3 [Fa6&Bb2] [Fb4&Ba0] [Fa7&Bb3] [Fb5&Ba1] [Fa8&Bb4] [Fb6&Ba2] [Fa9&Bb5] [Fb7&Ba3] Bb6 [Fb8&Ba4] Bb7 [Fb9&Ba5] Bb8 Ba6 Bb9z Ba7z W Ba8z W Ba9z W W",
        "rank 2: Fa0 Fa1 Fa2 Fb0 Fa3 Fb1 Fa4 Fb2 Bb0z W Fb3 [Fa5&Bb1] [Fb4&Ba0] [Fa6&Bb2] [Fb5&Ba1] [Fa7&Bb3] [Fb6&Ba2] [Fa8&Bb4] [Fb7&Ba3] [Fa9&Bb5] [Fb8&Ba4] Bb6 [Fb9&Ba5] Bb7 Ba6 Bb8 Ba7z Bb9z Ba8z W Ba9z W W W",
        "rank 3: Fa0 Fb0 Fa1 Fb1 Fa2 Fb2 Fa3 Fb3 Fa4 Bb0 [Fb4&Ba0] [Fa5&Bb1] [Fb5&Ba1] [Fa6&Bb2] [Fb6&Ba2] [Fa7&Bb3] [Fb7&Ba3] [Fa8&Bb4] [Fb8&Ba4] [Fa9&Bb5] [Fb9&Ba5] Bb6 Ba6 Bb7 Ba7 Bb8z Ba8z Bb9z Ba9z W W W W",
    ];

    private static string Mirror(string line, int ranks)
    {
        int rank = int.Parse(line[5..line.IndexOf(':')]);
        string ops = line[(line.IndexOf(':') + 2)..].Replace('a', '#').Replace('b', 'a').Replace('#', 'b');
        return $"rank {ranks - 1 - rank}: {ops}";
    }

    private static string[] Lines(PipelineSchedule schedule) => schedule.FormatOps().TrimEnd('\n').Split('\n');

    [Fact]
    public void DualPipe_8_ranks_20_micro_batches_is_the_README_figure()
    {
        string[] expected = [.. FigureFirstHalf, .. FigureFirstHalf.Reverse().Select(l => Mirror(l, 8))];
        Assert.Equal(expected, Lines(PipelineSchedule.Build(ScheduleKind.DualPipe, 8, 20)));
    }

    [Fact]
    public void DualPipeV_4_ranks_10_micro_batches_is_DualPipe_8_by_20_cut_in_half()
    {
        // parallel-fp8 notes §2.8: DualPipeV(4, 10) gives ranks 0–3 of DualPipe(8, 20), b read as the V's second leg.
        Assert.Equal(FigureFirstHalf, Lines(PipelineSchedule.Build(ScheduleKind.DualPipeV, 4, 10)));
    }

    [Theory]
    [InlineData(2, 4)]
    [InlineData(2, 6)]
    [InlineData(2, 10)]
    [InlineData(4, 8)]
    [InlineData(4, 10)]
    [InlineData(4, 22)]
    [InlineData(6, 12)]
    [InlineData(6, 14)]
    [InlineData(6, 30)]
    [InlineData(8, 16)]
    [InlineData(8, 40)]
    [InlineData(16, 32)]
    [InlineData(16, 64)]
    public void DualPipe_order_equals_the_reference_steps(int ranks, int microBatches)
    {
        var expected = Enumerable.Range(0, ranks).Select(r => ReferenceDualPipeOrder.Rank(false, ranks, microBatches, r));
        Assert.Equal(expected, Lines(PipelineSchedule.Build(ScheduleKind.DualPipe, ranks, microBatches)));
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(1, 5)]
    [InlineData(2, 4)]
    [InlineData(2, 7)]
    [InlineData(3, 6)]
    [InlineData(3, 11)]
    [InlineData(4, 8)]
    [InlineData(4, 13)]
    [InlineData(8, 16)]
    [InlineData(8, 20)]
    [InlineData(8, 33)]
    public void DualPipeV_order_equals_the_reference_steps(int ranks, int microBatches)
    {
        var expected = Enumerable.Range(0, ranks).Select(r => ReferenceDualPipeOrder.Rank(true, ranks, microBatches, r));
        Assert.Equal(expected, Lines(PipelineSchedule.Build(ScheduleKind.DualPipeV, ranks, microBatches)));
    }

    [Fact]
    public void OneFOneB_3_ranks_4_micro_batches_by_hand()
    {
        // Rank r: P−r−1 warm-up forwards, then forward/backward pairs, then the remaining backwards.
        Assert.Equal(
        [
            "rank 0: Fa0 Fa1 Fa2 Ba0 Fa3 Ba1 Ba2 Ba3",
            "rank 1: Fa0 Fa1 Ba0 Fa2 Ba1 Fa3 Ba2 Ba3",
            "rank 2: Fa0 Ba0 Fa1 Ba1 Fa2 Ba2 Fa3 Ba3",
        ], Lines(PipelineSchedule.Build(ScheduleKind.OneFOneB, 3, 4)));
        Assert.Equal(["rank 0: Fa0 Fa1 Ba0 Ba1", "rank 1: Fa0 Ba0 Fa1 Ba1"], Lines(PipelineSchedule.Build(ScheduleKind.OneFOneB, 2, 2)));
        Assert.Equal(["rank 0: Fa0 Ba0", "rank 1: Fa0 Ba0", "rank 2: Fa0 Ba0"], Lines(PipelineSchedule.Build(ScheduleKind.OneFOneB, 3, 1)));
    }

    [Theory]
    [InlineData(ScheduleKind.DualPipe, 3, 12, "DualPipe needs an even number of ranks")]
    [InlineData(ScheduleKind.DualPipe, 4, 9, "DualPipe needs an even number of micro-batches")]
    [InlineData(ScheduleKind.DualPipe, 4, 6, "DualPipe needs at least 2 × ranks micro-batches")]
    [InlineData(ScheduleKind.DualPipeV, 4, 7, "DualPipeV needs at least 2 × ranks micro-batches")]
    [InlineData(ScheduleKind.OneFOneB, 4, 0, "M ≥ 1")]
    [InlineData(ScheduleKind.OneFOneB, 0, 4, "P ≥ 1")]
    public void Layouts_the_reference_refuses_are_refused_naming_the_rule(ScheduleKind kind, int ranks, int microBatches, string rule)
    {
        var error = Assert.Throws<ScheduleLayoutException>(() => PipelineSchedule.Build(kind, ranks, microBatches));
        Assert.StartsWith(rule, error.Rule);
        Assert.Contains(rule, error.Message);
    }

    [Theory]
    [InlineData(ScheduleKind.OneFOneB, 1, 3)]
    [InlineData(ScheduleKind.OneFOneB, 4, 2)]
    [InlineData(ScheduleKind.OneFOneB, 4, 9)]
    [InlineData(ScheduleKind.DualPipe, 2, 4)]
    [InlineData(ScheduleKind.DualPipe, 4, 10)]
    [InlineData(ScheduleKind.DualPipe, 6, 12)]
    [InlineData(ScheduleKind.DualPipe, 8, 20)]
    [InlineData(ScheduleKind.DualPipe, 16, 34)]
    [InlineData(ScheduleKind.DualPipeV, 1, 2)]
    [InlineData(ScheduleKind.DualPipeV, 3, 7)]
    [InlineData(ScheduleKind.DualPipeV, 4, 10)]
    [InlineData(ScheduleKind.DualPipeV, 8, 17)]
    public void Every_transfer_has_a_partner_and_the_exchanges_never_deadlock(ScheduleKind kind, int ranks, int microBatches)
    {
        var schedule = PipelineSchedule.Build(kind, ranks, microBatches);
        schedule.CheckExchanges();

        // Each rank: every micro-batch forward and backward once per direction; as many weight steps as deferrals.
        foreach (var program in schedule.Programs)
        {
            var parts = program.Ops.SelectMany(op => op is OverlappedOp o ? new PipelineOp[] { o.Forward, o.Backward } : [op]).ToList();
            foreach (var d in schedule.Layout.Directions)
            {
                Assert.Equal(Enumerable.Range(0, schedule.MicroBatchesPerDirection), parts.OfType<ForwardOp>().Where(f => f.Direction == d).Select(f => f.MicroBatch));
                Assert.Equal(Enumerable.Range(0, schedule.MicroBatchesPerDirection), parts.OfType<BackwardOp>().Where(b => b.Direction == d).Select(b => b.MicroBatch));
            }
            Assert.Equal(parts.OfType<BackwardOp>().Count(b => b.DeferWeightGrad), parts.OfType<WeightStepOp>().Count());
        }
    }

    [Fact]
    public void Transfers_name_the_neighbour_and_a_tag_both_ends_share()
    {
        var schedule = PipelineSchedule.Build(ScheduleKind.DualPipe, 4, 8);
        var rank1 = schedule.Programs[1].Steps.SelectMany(s => s.Exchange).Concat(schedule.Programs[1].FinalExchange).ToList();
        // Rank 1 gets direction a from rank 0 and direction b from rank 2, and sends each on.
        Assert.All(rank1.Where(t => t.Kind == TransferKind.ReceiveActivation), t => Assert.Equal(t.Direction == PipelineDirection.A ? 0 : 2, t.Peer));
        Assert.All(rank1.Where(t => t.Kind == TransferKind.SendGradient), t => Assert.Equal(t.Direction == PipelineDirection.A ? 0 : 2, t.Peer));
        Assert.Equal(2 * 4, rank1.Count(t => t.Kind == TransferKind.ReceiveActivation));
        var first = rank1.First(t => t.Kind == TransferKind.ReceiveActivation);
        Assert.Equal(first.Tag, first.Counterpart(1).Tag);
        Assert.Equal(rank1.Count, rank1.Select(t => (t.Peer, t.Tag, t.IsSend)).Distinct().Count());
        // The first step of rank 1 is Fa0, received from rank 0 in the exchange just before it.
        var step = schedule.Programs[1].Steps[0];
        Assert.Equal(new ForwardOp(PipelineDirection.A, 0), step.Op);
        Assert.Equal([new Transfer(TransferKind.ReceiveActivation, PipelineDirection.A, 0, 0)], step.Exchange);
    }
}
