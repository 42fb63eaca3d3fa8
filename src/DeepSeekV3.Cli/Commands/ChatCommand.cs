using System.CommandLine;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 chat`: an interactive multi-turn conversation through the model's chat template. One user turn per
/// input line; an empty line or end of input ends the chat; "/reset" starts over. The latent cache is kept between
/// turns (plain decoding), so a turn prefills only its new tokens; after each reply a line on standard error says how
/// many of the prompt's tokens the cache held.</summary>
internal static class ChatCommand
{
    /// <param name="input">Where the user's turns come from (standard input in `dsv3`).</param>
    public static Command Create(TextReader input)
    {
        var model = CliOptions.Model(required: false);
        var system = new Option<string?>("--system") { Description = "A system prompt" };
        var device = CliOptions.Device();
        var dtype = CliOptions.Dtype("f32");
        var sampling = new SamplingOptions();
        var weights = CliOptions.Weights();
        var threads = CliOptions.Threads();
        var command = new Command("chat", "Chat with a model (one user turn per line; empty line to quit)") { model, system, device, dtype, weights, threads };
        sampling.AddTo(command);
        command.SetAction(result =>
        {
            string dir = result.GetValue(model) ?? CliOptions.DefaultModelDirectory();
            CliOptions.ApplyThreads(result.GetValue(threads));
            var parameters = sampling.Read(result, ChatDefaults(dir));
            bool speculative = sampling.ReadSpeculative(result);
            // With --weights no LibTorch model is built: the fused decoder reads the checkpoint's weights (mapped or converted).
            var config = ModelCheckpoint.LoadConfig(dir);
            using var stored = CliOptions.ParseWeights(result.GetValue(weights), result.GetValue(device)!) is { } mode ? CheckpointWeights.Open(dir, mode) : null;
            using var network = stored is null ? ModelCheckpoint.Load(dir, TensorSettings.ParseDevice(result.GetValue(device)!),
                TensorSettings.ParseDtype(result.GetValue(dtype)!)) : null;
            Func<ForwardBackend>? backend = stored is null ? null : () => new FusedWeightsBackend(config, stored);
            var generator = new TextGenerator(network, ByteLevelBpeTokenizer.Load(dir), backend: backend, config: config);
            // The conversation's cache stays between turns: each turn prefills only what follows the previous one.
            using var session = network is not null ? new PromptCache(network) : new PromptCache(config, FusedWeightsBackend.Cache.Dtype, FusedWeightsBackend.Cache.Device);
            var writer = result.InvocationConfiguration.Output;
            var history = new List<ChatMessage>();
            if (result.GetValue(system) is { } systemPrompt) history.Add(ChatMessage.System(systemPrompt));
            int firstTurn = history.Count;
            while (true)
            {
                writer.Write("you> ");
                writer.Flush();
                string? line = input.ReadLine();
                if (string.IsNullOrWhiteSpace(line)) break;
                if (line.Trim() == "/reset")
                {
                    history.RemoveRange(firstTurn, history.Count - firstTurn);
                    session.Clear();
                    continue;
                }
                history.Add(ChatMessage.User(line));
                writer.Write("assistant> ");
                var reply = generator.Chat(history, parameters, result.GetValue(sampling.Stop), speculative,
                    piece => { writer.Write(piece); writer.Flush(); }, session);
                writer.WriteLine();
                var generated = reply.Result;
                result.InvocationConfiguration.Error.WriteLine($"[{generated.Tokens.Length} tokens; " +
                    $"{generated.CachedPromptTokens} of the {generated.PromptTokens}-token prompt reused from the conversation's cache]");
                history.Add(ChatMessage.Assistant(reply.Text));
            }
        });
        return command;
    }

    /// <summary>The model's generation_config.json over llama.cpp's chat sampling (temperature 0.8, top-p 0.95,
    /// repetition penalty 1.1): a chat sampled greedily from a small model loops.</summary>
    internal static SamplingParams ChatDefaults(string modelDirectory)
    {
        var chat = GenerationConfig.ChatDefaults.Over(new SamplingParams());
        return GenerationConfig.Load(modelDirectory)?.Over(chat) ?? chat;
    }
}
