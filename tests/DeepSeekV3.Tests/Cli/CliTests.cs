using System.Text.Json;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Cli;
using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Checkpoints;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Cli;

public class CliTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Info_for_the_v3_preset_shows_the_published_sizes()
    {
        var (code, text, _) = Run("info", "--preset", "v3");
        Assert.Equal(0, code);
        // Total: docs/reference-notes.md#parameter-arithmetic-of-the-671b-config.
        Assert.Contains("671.03B", text);
        Assert.Contains("37.55B", text);         // activated per token
        Assert.Contains("70,272 bytes latent", text);
        Assert.Contains("11.61B", text);         // MTP module
    }

    [Fact]
    public void Info_v2_lite_preset_prints_its_published_size_without_query_compression()
    {
        var (code, text, _) = Run("info", "--preset", "v2-lite");
        Assert.Equal(0, code);
        Assert.Contains("15.71B (15,706,484,224)", text);   // worked by hand in StreamingInitializerTests
        Assert.Contains("q_lora_rank none", text);
        Assert.Contains("softmax/greedy", text);
    }

    [Fact]
    public void Init_then_logits_json_matches_the_library_forward()
    {
        using var dir = new TempDirectory();
        var (code, _, err) = Run("init", "--preset", "tiny", "--seed", "5", "--dtype", "f32", "--out", dir.Path);
        Assert.True(code == 0, err);
        var (code2, json, err2) = Run("logits", "--model", dir.Path, "--tokens", "1,2,3", "--all-positions", "--json");
        Assert.True(code2 == 0, err2);
        using var doc = JsonDocument.Parse(json);
        var rows = doc.RootElement.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        Assert.Equal(3, rows.Length);

        using var model = ModelCheckpoint.Load(dir.Path);
        using var tokens = tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        using var _ = no_grad();
        using var output = model.Forward(tokens);
        for (int p = 0; p < 3; p++)
            Assert.Equal(output.Logits[0, p].data<float>().ToArray(), rows[p]);   // same path, same bits
    }

    [Fact]
    public void Generate_prints_the_greedy_continuation()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, Run("init", "--preset", "tiny", "--out", dir.Path).Code);
        // --threads as LibTorch has it already: accepted, and no other test's thread count changes.
        var (code, text, err) = Run("generate", "--model", dir.Path, "--tokens", "4,5,6", "--max-tokens", "5",
                                    "--threads", TorchSharp.torch.get_num_threads().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, err);
        Assert.Contains("prompt:    4,5,6", text);
        string generated = text.Split('\n').Single(l => l.StartsWith("generated:")).Split(':')[1].Trim();

        // The library's greedy generation on the same checkpoint, loaded as the command loads it (f32 on the CPU).
        using var model = ModelCheckpoint.Load(dir.Path);
        var greedy = new GenerationEngine(model).Generate([new GenerationRequest([4, 5, 6], new SamplingParams { MaxTokens = 5 })])[0];
        Assert.Equal(string.Join(",", greedy.Tokens), generated);
    }

    [Theory]
    [InlineData("unknown preset \"huge\"", "info", "--preset", "huge")]
    [InlineData("give --preset NAME or --config FILE", "init", "--out", "/tmp/never")]
    [InlineData("dtype \"fp4\" is unknown; expected f32, bf16, f16 or fp8", "init", "--preset", "tiny", "--dtype", "fp4", "--out", "/tmp/never")]
    [InlineData("--prefill URL is for --role decode; this server's role is prefill", "serve", "--role", "prefill", "--prefill", "http://127.0.0.1:9", "--port", "0")]
    [InlineData("model directory not found", "logits", "--model", "/nonexistent/model", "--tokens", "1")]
    [InlineData("config file not found", "info", "/")]
    [InlineData("--threads -1: expected 0 (LibTorch's default) or a positive count", "generate", "--threads", "-1", "--tokens", "1")]
    [InlineData("--threads -2: expected 0 (LibTorch's default) or a positive count", "chat", "--threads", "-2")]
    public void Bad_arguments_exit_2_with_one_clear_line(string message, params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.StartsWith("dsv3: error:", err);
    }

    /// <summary>A real path to an exception no command expects: `plot` over a metrics.jsonl some other tool wrote,
    /// whose "step" is a string.</summary>
    private static TempDirectory RunWithForeignMetrics()
    {
        var dir = new TempDirectory();
        File.WriteAllText(dir.File("metrics.jsonl"), "{\"step\": \"one\", \"loss\": 2.5}\n");
        return dir;
    }

    [Fact]
    public void An_unexpected_exception_is_one_line_with_exit_1_and_a_stack_trace_only_under_verbose()
    {
        using var dir = RunWithForeignMetrics();
        var (code, _, err) = Run("plot", "--out", dir.Path);
        Assert.Equal(1, code);
        Assert.StartsWith("dsv3: error: unexpected JsonException:", err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        (code, _, err) = Run("plot", "--out", dir.Path, "--verbose");
        Assert.Equal(1, code);
        Assert.StartsWith("dsv3: error: unexpected JsonException:", err);
        Assert.Contains("   at DeepSeekV3.", err);
    }

    [Fact]
    public void The_dsv3_process_exits_1_not_abort_on_an_unexpected_exception_and_DSV3_VERBOSE_shows_the_trace()
    {
        using var dir = RunWithForeignMetrics();
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "dsv3.dll"), "plot", "--out", dir.Path },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            Environment = { ["DSV3_VERBOSE"] = "1" },
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        string err = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(1, process.ExitCode);                                              // not 134 (SIGABRT)
        Assert.StartsWith("dsv3: error: unexpected JsonException:", err);
        Assert.Contains("   at DeepSeekV3.", err);
        Assert.DoesNotContain("Unhandled exception", err);
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_are_rejected()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, Run("init", "--preset", "tiny", "--out", dir.Path).Code);
        var (code, _, err) = Run("logits", "--model", dir.Path, "--tokens", "1,99999");
        Assert.Equal(2, code);
        Assert.Contains("\"99999\" is not a token id in [0, 512)", err);
    }

    [Fact]
    public void Convert_rewrites_f32_as_fp8_and_keeps_the_tokenizer_files()
    {
        using var dir = new TempDirectory();
        string source = Path.Combine(dir.Path, "f32"), target = Path.Combine(dir.Path, "fp8");
        Assert.Equal(0, Run("init", "--preset", "tiny", "--dtype", "f32", "--out", source).Code);
        File.WriteAllText(Path.Combine(source, "tokenizer.json"), "{}");
        var (code, text, err) = Run("convert", "--model", source, "--fp8", "--out", target);
        Assert.True(code == 0, err);
        Assert.Contains("fp8 e4m3", text);
        Assert.Equal("{}", File.ReadAllText(Path.Combine(target, "tokenizer.json")));
        using var reader = CheckpointReader.Open(target);
        Assert.Equal(SafetensorsDType.F8_E4M3, reader.Info("model.layers.0.self_attn.o_proj.weight").DType);
        Assert.Equal(2, Run("convert", "--model", source, "--out", source).Code);
    }
}
