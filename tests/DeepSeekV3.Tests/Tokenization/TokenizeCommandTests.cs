using System.Text;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

public class TokenizeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dsv3-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Line_encoding_of_the_parity_text_equals_HuggingFace_per_line_ids()
    {
        string text = File.ReadAllText(Path.Combine(TokenizerTestFiles.DataDirectory, "parity.txt"));
        var output = new StringWriter();
        LineTokenization.EncodeLines(TokenizerTestFiles.DeepSeekV3, new MemoryStream(Encoding.UTF8.GetBytes(text)), output, addSpecialTokens: false);
        var expected = File.ReadAllLines(Path.Combine(TokenizerTestFiles.DataDirectory, "parity.line.ids.jsonl"));
        Assert.Equal(expected, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Dsv3_tokenize_then_detokenize_gives_the_input_back()
    {
        string input = Path.Combine(_dir, "in.txt"), ids = Path.Combine(_dir, "ids.jsonl"), model = TokenizerTestFiles.DeepSeekV3Directory;
        File.WriteAllText(input, "Hello, world!\n你好 🍕\n\n<｜User｜>hi");
        var tokenized = CliProcess.Dsv3("tokenize", "--tokenizer", model, "--input", input, "--special");
        Assert.Equal(0, tokenized.ExitCode);
        Assert.Equal("[0,19923,14,2058,8567]\n[0,30594,7351,238,246,201]\n[0,201]\n[0,128803,6366]\n", tokenized.Stdout);
        File.WriteAllText(ids, tokenized.Stdout);
        var back = CliProcess.Dsv3("detokenize", "--tokenizer", model, "--input", ids, "--skip-special");
        Assert.Equal(0, back.ExitCode);
        Assert.Equal(File.ReadAllText(input), back.Stdout);
    }

    [Fact]
    public void Dsv3_tokenize_reports_invalid_UTF8_and_missing_tokenizer_as_one_line_errors()
    {
        string input = Path.Combine(_dir, "bad.txt");
        File.WriteAllBytes(input, [(byte)'o', (byte)'k', 0xFF]);
        var bad = CliProcess.Dsv3("tokenize", "--tokenizer", TokenizerTestFiles.DeepSeekV3Directory, "--input", input);
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("dsv3: error: input is not valid UTF-8 at byte 2\n", bad.Stderr);
        var missing = CliProcess.Dsv3("tokenize", "--tokenizer", Path.Combine(_dir, "none"), "--input", input);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("tokenizer.json not found", missing.Stderr);
    }
}
