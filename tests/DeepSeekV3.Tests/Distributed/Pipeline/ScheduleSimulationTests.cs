using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Tests.Distributed.Pipeline;

public class ScheduleSimulationTests
{
    [Theory]
    [InlineData(2, 4, 1, 2)]
    [InlineData(4, 8, 1, 2)]
    [InlineData(4, 16, 1.5, 2.5)]
    [InlineData(8, 16, 1, 2)]
    [InlineData(8, 64, 2, 3)]
    public void OneFOneB_every_rank_idles_the_reports_PP_minus_1_times_F_plus_B(int pp, int microBatches, double f, double b)
    {
        var simulation = ScheduleSimulation.Run(PipelineSchedule.Build(ScheduleKind.OneFOneB, pp, microBatches), new PipelineCosts(f, b, 0, f + b));
        Assert.All(simulation.Ranks, r => Assert.Equal((pp - 1) * (f + b), r.Idle, 9));
        Assert.Equal((microBatches + pp - 1) * (f + b), simulation.TotalTime, 9);
        Assert.Equal(pp, simulation.Ranks[0].PeakActivations);                // report: PP
        Assert.Equal(1, simulation.Ranks[^1].PeakActivations);
    }

    // The report's DualPipe formula (PP/2−1)(F&B+B−3W) counts an overlapped pair as one chunk of cost F&B. With
    // F&B = F + B every rank's busy time is the same and every rank idles exactly the formula (notes §2.8); with a
    // pair cheaper than its parts the end ranks (more pairs) idle less and the middle ranks exactly the formula.
    [Theory]
    [InlineData(2, 4)]
    [InlineData(4, 8)]
    [InlineData(4, 20)]
    [InlineData(8, 16)]
    [InlineData(8, 20)]
    [InlineData(16, 32)]
    [InlineData(16, 64)]
    public void DualPipe_bubble_is_the_reports_formula_and_peak_activations_PP_plus_1(int pp, int microBatches)
    {
        var schedule = PipelineSchedule.Build(ScheduleKind.DualPipe, pp, microBatches);
        var costs = PipelineCosts.Default;
        double formula = (pp / 2 - 1) * (costs.ForwardBackward + costs.Backward - 3 * costs.Weight);
        var simulation = ScheduleSimulation.Run(schedule, costs);
        Assert.All(simulation.Ranks, r => Assert.Equal(formula, r.Idle, 9));
        Assert.Equal(formula, ScheduleFormulas.For(ScheduleKind.DualPipe, pp, costs).Value);
        Assert.Equal(pp + 1, simulation.Ranks[0].PeakActivations);
        Assert.Equal(pp + 1, simulation.PeakActivations);

        var cheaperPair = costs with { ForwardBackward = 2.5 };
        var overlapped = ScheduleSimulation.Run(schedule, cheaperPair);
        Assert.Equal((pp / 2 - 1) * (2.5 + 2 - 3), overlapped.Bubble, 9);
        Assert.Equal(overlapped.Bubble, overlapped.Ranks[pp / 2].Idle, 9);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 4)]
    [InlineData(4, 8)]
    [InlineData(4, 10)]
    [InlineData(8, 16)]
    [InlineData(8, 64)]
    public void DualPipeV_bubble_is_the_formula_with_PP_twice_the_ranks(int ranks, int microBatches)
    {
        var simulation = ScheduleSimulation.Run(PipelineSchedule.Build(ScheduleKind.DualPipeV, ranks, microBatches), PipelineCosts.Default);
        int stages = 2 * ranks;
        Assert.All(simulation.Ranks, r => Assert.Equal((stages / 2 - 1) * 2.0, r.Idle, 9));
        Assert.Equal(stages + 1, simulation.Ranks[0].PeakActivations);
    }

    [Fact]
    public void Each_transfer_between_ranks_adds_its_time_on_the_critical_path()
    {
        // One micro-batch through 3 ranks: 3 forwards, 3 backwards, 2 hops down and 2 back.
        var simulation = ScheduleSimulation.Run(PipelineSchedule.Build(ScheduleKind.OneFOneB, 3, 1), PipelineCosts.Default with { Transfer = 0.5 });
        Assert.Equal(3 * 1 + 3 * 2 + 4 * 0.5, simulation.TotalTime, 9);
    }

    [Theory]
    [InlineData("1,2,1,3", 1, 2, 1, 3, 0)]
    [InlineData("1.5,3,1.5,4,0.25", 1.5, 3, 1.5, 4, 0.25)]
    public void Costs_parse(string text, double f, double b, double w, double fb, double t) =>
        Assert.Equal(new PipelineCosts(f, b, w, fb, t), PipelineCosts.Parse(text));

    [Theory]
    [InlineData("1,2,1", "expected F,B,W,FB")]
    [InlineData("1,x,1,3", "\"x\" is not a non-negative number")]
    [InlineData("1,2,3,3", "W ≤ B")]
    public void Bad_costs_are_refused(string text, string message) =>
        Assert.Contains(message, Assert.Throws<InvalidArgumentException>(() => PipelineCosts.Parse(text)).Message);
}
