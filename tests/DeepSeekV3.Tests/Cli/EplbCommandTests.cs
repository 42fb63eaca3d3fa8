using System.Text.Json;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Inference.Eplb;

namespace DeepSeekV3.Tests.Cli;

public class EplbCommandTests
{
    [Fact]
    public void Eplb_on_the_readme_example_writes_the_published_placement_as_json()
    {
        using var dir = new TempDirectory();
        string weights = Path.Combine(dir.Path, "loads.json"), placement = Path.Combine(dir.Path, "out", "placement.json");
        File.WriteAllText(weights, JsonSerializer.Serialize(ExpertLoadBalancerTests.ReadmeLoads));

        var (code, stdout, stderr) = CliTests.Run("eplb", "--weights", weights, "--replicas", "16", "--groups", "4", "--nodes", "2", "--gpus", "8",
            "--output", placement);

        Assert.True(code == 0, stderr);
        Assert.Equal("", stdout);
        using var json = JsonDocument.Parse(File.ReadAllText(placement));
        Assert.Equal(ExpertLoadBalancerTests.ReadmePhy2Log, json.RootElement.GetProperty("phy2log").Deserialize<int[][]>());
        Assert.Equal([1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1], json.RootElement.GetProperty("logcnt").Deserialize<int[][]>()![0]);
        Assert.Equal([15, 13], json.RootElement.GetProperty("log2phy").Deserialize<int[][][]>()![0][1]);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(placement)!, "*.tmp-*"));
        Assert.Contains("hierarchical policy", stderr);
        Assert.Contains("layer 1: balancedness", stderr);
    }

    [Fact]
    public void Eplb_prints_to_stdout_and_reports_balancedness_before_and_after()
    {
        using var dir = new TempDirectory();
        string weights = Path.Combine(dir.Path, "loads.json");
        File.WriteAllText(weights, "[[8, 2, 4, 2]]");

        var (code, stdout, stderr) = CliTests.Run("eplb", "--weights", weights, "--replicas", "6", "--groups", "1", "--nodes", "1", "--gpus", "2");

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal([[2, 0, 3, 0, 0, 1]], json.RootElement.GetProperty("phy2log").Deserialize<int[][]>());
        Assert.Contains("layer 0: balancedness 0.800 -> 0.923", stderr);   // ExpertLoadBalancerTests.A_tiny_case_computed_by_hand
    }

    [Theory]
    [InlineData("[[1, 2, 3, 4], [5, 6]", "not valid JSON")]
    [InlineData("[[1, 2, 3, 4], [5, 6]]", "layer 1 has 2 experts, layer 0 has 4")]
    [InlineData("[[1, 2, -3, 4]]", "layer 0, expert 2: load -3 must be a non-negative")]
    public void A_malformed_load_file_exits_2_naming_the_file_and_the_problem(string content, string message)
    {
        using var dir = new TempDirectory();
        string weights = Path.Combine(dir.Path, "loads.json");
        File.WriteAllText(weights, content);

        var (code, stdout, stderr) = CliTests.Run("eplb", "--weights", weights, "--replicas", "4", "--groups", "1", "--nodes", "1", "--gpus", "2");

        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"dsv3: error: {weights}: ", stderr);
        Assert.Contains(message, stderr);
    }
}
