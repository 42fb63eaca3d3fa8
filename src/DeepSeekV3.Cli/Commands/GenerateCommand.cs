using System.CommandLine;
using System.Diagnostics;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 generate`: continue a text prompt (or token ids) with the latent KV cache, optionally with MTP
/// speculative decoding, streaming the text as it comes.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model(required: false);
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Text to continue (needs a tokenizer in the model directory)" };
        var tokens = CliOptions.Tokens(required: false);
        var stream = new Option<bool>("--stream") { Description = "Print text as it is generated" };
        var device = CliOptions.Device();
        var dtype = CliOptions.Dtype("f32");
        var sampling = new SamplingOptions();
        var command = new Command("generate", "Generate a continuation of a prompt") { model, prompt, tokens, stream, device, dtype };
        sampling.AddTo(command);
        command.SetAction(result =>
        {
            string dir = result.GetValue(model) ?? CliOptions.DefaultModelDirectory();
            var parameters = sampling.Read(result);
            bool speculative = sampling.ReadSpeculative(result);
            string? text = result.GetValue(prompt);
            string? ids = result.GetValue(tokens);
            if ((text is null) == (ids is null))
                throw new InvalidArgumentException("give either --prompt TEXT or --tokens IDS");
            var config = ModelCheckpoint.LoadConfig(dir);
            using var network = ModelCheckpoint.Load(dir, TensorSettings.ParseDevice(result.GetValue(device)!),
                TensorSettings.ParseDtype(result.GetValue(dtype)!));
            var writer = result.InvocationConfiguration.Output;
            var watch = Stopwatch.StartNew();
            GenerationResult generated;
            if (text is not null)
            {
                var generator = new TextGenerator(network, ByteLevelBpeTokenizer.Load(dir));
                bool streaming = result.GetValue(stream);
                if (streaming) writer.Write(text);
                var output = generator.Generate(text, parameters, result.GetValue(sampling.Stop), speculative,
                    streaming ? piece => { writer.Write(piece); writer.Flush(); } : null);
                writer.WriteLine(streaming ? "" : text + output.Text);
                generated = output.Result;
            }
            else
            {
                var request = new GenerationRequest(TensorSettings.ParseTokens(ids!, config.VocabSize), parameters);
                generated = new GenerationEngine(network, speculative: speculative).Generate([request])[0];
                writer.WriteLine($"prompt:    {ids}");
                writer.WriteLine($"generated: {string.Join(",", generated.Tokens)}");
            }
            double seconds = watch.Elapsed.TotalSeconds;
            string acceptance = speculative ? $", MTP acceptance {generated.AcceptanceRate:P1} ({generated.AcceptedTokens}/{generated.DraftedTokens})" : "";
            string decodeRate = generated.Tokens.Length > 1 ? $", then {generated.DecodeTokensPerSecond:F1} tokens/s" : "";
            result.InvocationConfiguration.Error.WriteLine(
                $"[{generated.Tokens.Length} tokens in {seconds:F2} s: first token {generated.TimeToFirstToken.TotalMilliseconds:F0} ms " +
                $"after a {generated.PromptTokens}-token prompt{decodeRate}; finish: {generated.FinishReason.ToString().ToLowerInvariant()}{acceptance}]");
        });
        return command;
    }
}
