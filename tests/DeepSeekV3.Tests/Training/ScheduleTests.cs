using DeepSeekV3.Training.Optimization;

namespace DeepSeekV3.Tests.Training;

public class ScheduleTests
{
    [Fact]
    public void Learning_rate_follows_warmup_constant_cosine_and_tail_at_the_boundaries()
    {
        var s = new LearningRateSchedule(Peak: 1.0, WarmupSteps: 10, ConstantEnd: 50, DecayEnd: 90, DecayedLr: 0.1, TailStart: 95, TailLr: 0.03);
        Assert.Equal(0.1, s.At(0), 12);                 // first update: 1/10 of peak
        Assert.Equal(1.0, s.At(9), 12);                 // warm-up ends exactly at peak
        Assert.Equal(1.0, s.At(10), 12);
        Assert.Equal(1.0, s.At(49), 12);
        Assert.Equal(1.0, s.At(50), 12);                // cosine starts at peak
        Assert.Equal(0.55, s.At(70), 12);               // halfway: (peak + min) / 2
        Assert.Equal(0.1, s.At(90), 12);                // decay ends at the decayed LR
        Assert.Equal(0.1, s.At(94), 12);
        Assert.Equal(0.03, s.At(95), 12);               // final tail
        Assert.Equal(0.03, s.At(1000), 12);
    }

    [Fact]
    public void Report_shaped_schedule_uses_the_reports_proportions()
    {
        var s = LearningRateSchedule.ReportShaped(2.2e-4, totalSteps: 14800, warmupSteps: 2000);
        Assert.Equal(2000, s.WarmupSteps);
        Assert.Equal(10000, s.ConstantEnd);             // 10T of 14.8T
        Assert.Equal(14300, s.DecayEnd);                // + 4.3T
        Assert.Equal(14633, s.TailStart);               // + 333B
        Assert.Equal(2.2e-5, s.DecayedLr, 15);
        Assert.Equal(7.3e-6, s.TailLr, 15);
    }

    [Fact]
    public void Mtp_weight_bias_speed_and_batch_size_switch_where_the_report_does()
    {
        var lambda = StepSchedule.Switch(0.3, 0.1, 10.0 / 14.8, 148);
        Assert.Equal(0.3, lambda.At(99));
        Assert.Equal(0.1, lambda.At(100));
        var gamma = StepSchedule.Switch(0.001, 0, 14.3 / 14.8, 148);
        Assert.Equal(0.001, gamma.At(142));
        Assert.Equal(0, gamma.At(143));
        var batch = new BatchSizeSchedule(4, 20, 8);
        Assert.Equal(4, batch.At(0));
        Assert.Equal(12, batch.At(4));
        Assert.Equal(20, batch.At(8));
        Assert.Equal(20, batch.At(100));
    }
}
