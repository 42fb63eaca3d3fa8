using DeepSeekV3.Tests.Checkpoints;

namespace DeepSeekV3.Tests.Cli;

public class ScheduleCommandTests
{
    [Fact]
    public void Schedule_ops_prints_one_line_per_rank_in_the_op_notation()
    {
        var (code, text, err) = CliTests.Run("schedule", "--kind", "dualpipe", "--ranks", "4", "--micro-batches", "8");
        Assert.True(code == 0, err);
        string[] lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        // DualPipe 4×8, rank 0 (reference steps, parallel-fp8 notes §2.5): 2 forwards of a, then both directions.
        Assert.Equal("rank 0: Fa0 Fa1 Fa2 Fb0 Bb0z W Fb1 [Fa3&Bb1] [Fb2&Ba0] Bb2 [Fb3&Ba1] Bb3 Ba2z W Ba3z W", lines[0]);
    }

    [Fact]
    public void Schedule_table_puts_the_simulated_bubble_beside_the_reports_formulas()
    {
        var (code, text, err) = CliTests.Run("schedule", "--kind", "1f1b", "--ranks", "4", "--micro-batches", "8", "--format", "table", "--costs", "1,2,1,3");
        Assert.True(code == 0, err);
        Assert.Contains("1F1B: 4 ranks, 4 stages, 8 micro-batches; costs F=1 B=2 W=1 F&B=3", text);
        Assert.Matches(@"1F1B\s+\(PP−1\)\(F\+B\)\s+9\s+1×\s+PP = 4", text);
        Assert.Matches(@"DualPipe\s+\(PP/2−1\)\(F&B\+B−3W\)\s+2\s+2×\s+PP\+1 = 5", text);
        Assert.Matches(@"simulated\s+max over ranks\s+9\s+1×\s+4", text);
    }

    [Fact]
    public void Schedule_png_writes_a_timeline_image()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "dualpipev.png");
        var (code, text, err) = CliTests.Run("schedule", "--kind", "dualpipev", "--ranks", "2", "--micro-batches", "4", "--png", path);
        Assert.True(code == 0, err);
        Assert.Contains($"wrote {path}", text);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(path).Take(4));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp-*"));
    }

    [Theory]
    [InlineData("DualPipe needs an even number of ranks", "--kind", "dualpipe", "--ranks", "3", "--micro-batches", "12")]
    [InlineData("DualPipeV needs at least 2 × ranks micro-batches", "--kind", "dualpipev", "--ranks", "4", "--micro-batches", "6")]
    [InlineData("--costs \"1,2\": expected F,B,W,FB", "--kind", "1f1b", "--ranks", "2", "--micro-batches", "2", "--costs", "1,2")]
    public void Schedule_refuses_bad_layouts_with_exit_2(string message, params string[] args)
    {
        var (code, _, err) = CliTests.Run(["schedule", .. args]);
        Assert.Equal(2, code);
        Assert.StartsWith("dsv3: error:", err);
        Assert.Contains(message, err);
    }
}
