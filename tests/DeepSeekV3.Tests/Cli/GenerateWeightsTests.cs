using DeepSeekV3.Tests.Checkpoints;

namespace DeepSeekV3.Tests.Cli;

/// <summary><c>dsv3 generate --weights</c>: the fused decoder on the checkpoint's own weights, no LibTorch model.</summary>
public class GenerateWeightsTests
{
    private static string Generated(string text) => text.Split('\n').Single(l => l.StartsWith("generated:")).Split(':')[1].Trim();

    [Fact]
    public void Stored_fp8_weights_generate_what_the_dequantized_model_generates()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliTests.Run("init", "--preset", "tiny", "--fp8", "--seed", "3", "--out", dir.Path).Code);
        var (code, text, err) = CliTests.Run("generate", "--model", dir.Path, "--tokens", "4,5,6", "--max-tokens", "6");
        Assert.True(code == 0, err);
        var (storedCode, storedText, storedErr) = CliTests.Run("generate", "--model", dir.Path, "--tokens", "4,5,6", "--max-tokens", "6", "--weights", "stored");
        Assert.True(storedCode == 0, storedErr);
        Assert.Equal(Generated(text), Generated(storedText));
    }

    [Theory]
    [InlineData("--weights int4: expected stored, fp8, bf16 or f32", "--weights", "int4")]
    [InlineData("does not combine with --backend torch", "--weights", "stored", "--backend", "torch")]
    [InlineData("--weights runs the fused decoder on the CPU", "--weights", "stored", "--device", "cuda")]
    public void Bad_weights_options_exit_2_with_one_clear_line(string message, params string[] options)
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliTests.Run("init", "--preset", "tiny", "--out", dir.Path).Code);
        var (code, _, err) = CliTests.Run(["generate", "--model", dir.Path, "--tokens", "1", .. options]);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }
}
