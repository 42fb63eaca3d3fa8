using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed.Planning;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Cli;

namespace DeepSeekV3.Tests.Distributed.Planning;

public class TrainingPlanTests
{
    // The report's layout (§3.1, §4.2): 2048 GPUs, 16-way DualPipe, 64-way EP, 14.8T tokens of 4K sequences.
    private static TrainingPlan ReportLayout(double? mfu = null) =>
        TrainingPlan.Compute(new PlanInputs(ModelPresets.V3, 2048, 16, 64, 14.8e12, Mfu: mfu));

    [Fact]
    public void V3_has_671B_parameters_37B_activated()
    {
        var plan = ReportLayout();
        Assert.Equal(671.03e9, plan.TotalParameters - plan.MtpParameters, 0.01e9);
        Assert.Equal(37.55e9, plan.ActivatedParameters, 0.01e9);
        Assert.Equal(11.61e9, plan.MtpParameters, 0.01e9);
    }

    [Fact]
    public void Flops_per_token_match_a_hand_count_of_the_v3_matrices()
    {
        // Per layer, from config.json: q_a 7168×1536, q_b 1536×(128·192), kv_a 7168×576, kv_b 512×(128·256), o (128·128)×7168.
        double attention = 7168.0 * 1536 + 1536.0 * 128 * 192 + 7168.0 * 576 + 512.0 * 128 * 256 + 128.0 * 128 * 7168;
        double swiGlu = 3.0 * 7168 * 2048;                                       // one expert
        double dense = 3.0 * 7168 * 18432, moe = 9 * swiGlu + 256.0 * 7168;      // 8 routed + 1 shared, router
        double head = 129280.0 * 7168;
        double main = 61 * attention + 3 * dense + 58 * moe + head;
        double mtp = attention + moe + 2.0 * 7168 * 7168 + head;                 // its block, eh_proj, the shared head
        double scores = 6.0 * 128 * (192 + 128) * (4096 + 1) / 2 * (61 + 1);     // QKᵀ and AV, causal
        double expected = 6 * (main + mtp) + scores;
        var plan = ReportLayout();
        Assert.Equal(expected, plan.FlopsPerToken, expected * 0.001);          // norms are left out by hand: < 0.1%
        Assert.Equal(scores, plan.AttentionFlopsPerToken, 1);
    }

    [Fact]
    public void The_reports_180K_GPU_hours_per_trillion_tokens_imply_about_41_percent_BF16_MFU()
    {
        var plan = ReportLayout(mfu: 0.4);
        double secondsPerToken = 180e3 * 3600 / 1e12;                            // GPU-seconds per token
        Assert.Equal(plan.FlopsPerToken / secondsPerToken / 989e12, plan.ImpliedMfuBf16, 1e-9);
        Assert.InRange(plan.ImpliedMfuBf16, 0.40, 0.41);
        Assert.Equal(plan.ImpliedMfuBf16 / 2, plan.ImpliedMfuFp8, 1e-3);
        Assert.Equal(2.664e6, plan.ReportGpuHours, 1);
        Assert.Equal(plan.FlopsPerToken * 14.8e12 / (0.4 * 989e12) / 3600, plan.GpuHoursAtMfu!.Value, 1e-3);
    }

    [Fact]
    public void All_to_all_traffic_is_four_nodes_of_fp8_dispatch_and_bf16_combine_each_way()
    {
        var plan = ReportLayout();
        Assert.Equal(4, plan.NodesPerToken);
        Assert.Equal(4 * 2 * (7168 + 7168 * 4 / 128 + 2 * 7168), plan.AllToAllBytesPerTokenLayer);
        Assert.Equal(15360.0 * 4096 * (58 + 1) * plan.AllToAllBytesPerTokenLayer / 2048, plan.AllToAllBytesPerGpuPerStep, 1);
    }

    [Fact]
    public void Memory_counts_both_DualPipe_copies_and_fits_an_H800()
    {
        var memory = ReportLayout().Memory;
        Assert.Equal(2 * memory.Parameters, memory.WeightBytes);
        Assert.Equal(4 * memory.Parameters, memory.GradientBytes);
        Assert.Equal(17, memory.PeakMicroBatches);                               // PP + 1
        Assert.InRange(memory.TotalBytes, 40e9, 80e9);
    }

    [Theory]
    [InlineData("14.8T", 14.8e12)]
    [InlineData("500B", 500e9)]
    [InlineData("2.5m", 2.5e6)]
    [InlineData("4096", 4096)]
    [InlineData("1e12", 1e12)]
    public void Token_counts_parse(string text, double expected) => Assert.Equal(expected, TokenCount.Parse(text), expected * 1e-12);

    [Theory]
    [InlineData("abc")]
    [InlineData("-3T")]
    [InlineData("14.8X")]
    [InlineData("")]
    [InlineData("T")]
    public void Bad_token_counts_are_refused_with_an_example(string text) =>
        Assert.Contains("expected a positive count like 14.8T", Assert.Throws<InvalidArgumentException>(() => TokenCount.Parse(text)).Message);

    [Fact]
    public void Plan_command_prints_the_table_and_writes_json()
    {
        using var dir = new TempDirectory();
        string json = Path.Combine(dir.Path, "plan.json");
        var (code, text, err) = CliTests.Run("plan", "--preset", "v3", "--gpus", "2048", "--pp", "16", "--ep", "64", "--tokens", "14.8T", "--json", json);
        Assert.True(code == 0, err);
        Assert.Contains("2.664M GPU-hours", text);
        Assert.Contains("40.7 % of the BF16 peak", text);
        Assert.Contains("\"FlopsPerToken\"", File.ReadAllText(json));

        var (bad, _, error) = CliTests.Run("plan", "--preset", "v3", "--gpus", "2048", "--pp", "16", "--ep", "64", "--tokens", "lots");
        Assert.Equal(2, bad);
        Assert.Contains("--tokens \"lots\"", error);
        var (odd, _, oddError) = CliTests.Run("plan", "--preset", "v3", "--gpus", "2048", "--pp", "16", "--ep", "64", "--tokens", "1T", "--micro-batches", "7");
        Assert.Equal(2, odd);
        Assert.Contains("--micro-batches 7: must divide the 120 sequences", oddError);
    }
}
