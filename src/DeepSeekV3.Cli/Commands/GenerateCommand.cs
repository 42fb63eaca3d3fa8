using System.CommandLine;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.Runtime;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 generate --tokens`: greedy continuation of token ids with the latent KV cache.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var tokens = CliOptions.Tokens();
        var maxTokens = new Option<int>("--max-tokens") { Description = "New tokens to generate", DefaultValueFactory = _ => 16 };
        var device = CliOptions.Device();
        var dtype = CliOptions.Dtype("f32");
        var command = new Command("generate", "Generate a greedy continuation of token ids") { model, tokens, maxTokens, device, dtype };
        command.SetAction(result =>
        {
            string dir = result.GetValue(model)!;
            var config = ModelCheckpoint.LoadConfig(dir);
            long[] prompt = TensorSettings.ParseTokens(result.GetValue(tokens)!, config.VocabSize);
            int count = result.GetValue(maxTokens);
            if (count < 1) throw new InvalidArgumentException($"--max-tokens {count}: must be at least 1");
            using var network = ModelCheckpoint.Load(dir, TensorSettings.ParseDevice(result.GetValue(device)!),
                TensorSettings.ParseDtype(result.GetValue(dtype)!));
            var started = System.Diagnostics.Stopwatch.StartNew();
            long[] generated = GreedyDecoder.Generate(network, prompt, count);
            double seconds = started.Elapsed.TotalSeconds;
            var writer = result.InvocationConfiguration.Output;
            writer.WriteLine($"prompt:    {string.Join(",", prompt)}");
            writer.WriteLine($"generated: {string.Join(",", generated)}");
            writer.WriteLine($"{generated.Length} tokens in {seconds:F2} s ({generated.Length / seconds:F1} tokens/s)");
        });
        return command;
    }
}
