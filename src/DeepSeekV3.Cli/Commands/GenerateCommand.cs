using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Distributed;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Inference.Parallel;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 generate`: continue a text prompt (or token ids) with the latent KV cache, optionally with MTP
/// speculative decoding, streaming the text as it comes. Under mpiexec with --ep N, the routed experts are spread
/// over the N ranks (expert-parallel inference with EPLB); every rank generates, rank 0 alone prints.</summary>
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
        var backend = new Option<string>("--backend") { Description = "fused: the fused C# decoder where it applies; torch: LibTorch for every pass", DefaultValueFactory = _ => "fused" };
        backend.AcceptOnlyFromAmong("fused", "torch");
        var dumpLogits = new Option<string?>("--dump-logits") { Description = "Write each pass's last-position logits to FILE, one line per sequence and pass" };
        var sampling = new SamplingOptions();
        var parallel = new ExpertParallelOptions();
        var weights = CliOptions.Weights();
        var threads = CliOptions.Threads();
        var command = new Command("generate", "Generate a continuation of a prompt") { model, prompt, tokens, stream, device, dtype, backend, dumpLogits, weights, threads };
        sampling.AddTo(command);
        parallel.AddTo(command);
        command.SetAction(result =>
        {
            bool verbose = result.GetValue<bool>("--verbose") || Environment.GetEnvironmentVariable(CliApp.VerboseVariable) is "1" or "true";
            using var world = Communicators.FromEnvironment();
            return FailFast.Run(world, () => Run(result, world), result.InvocationConfiguration.Error, verbose);
        });
        return command;

        int Run(ParseResult result, ICommunicator world)
        {
            string dir = result.GetValue(model) ?? CliOptions.DefaultModelDirectory();
            CliOptions.ApplyThreads(result.GetValue(threads));
            var parameters = sampling.Read(result, new SamplingParams());   // greedy: a completion tool, compared token for token with other engines
            bool speculative = sampling.ReadSpeculative(result);
            var expertParallel = parallel.Read(result, world);
            string? text = result.GetValue(prompt);
            string? ids = result.GetValue(tokens);
            if ((text is null) == (ids is null))
                throw new InvalidArgumentException("give either --prompt TEXT or --tokens IDS");
            // Every rank generates; rank 0 alone prints.
            var writer = world.Rank == 0 ? result.InvocationConfiguration.Output : TextWriter.Null;
            var log = world.Rank == 0 ? result.InvocationConfiguration.Error : TextWriter.Null;
            var config = ModelCheckpoint.LoadConfig(dir);
            var weightsMode = CliOptions.ParseWeights(result.GetValue(weights), result.GetValue(device)!);
            bool torch = result.GetValue(backend) == "torch";
            if (weightsMode is not null && (torch || expertParallel is not null))
                throw new InvalidArgumentException("--weights runs on the fused decoder alone: it does not combine with --backend torch or --ep");
            // With --weights no LibTorch model is built: the fused decoder reads the checkpoint's weights (mapped or converted).
            using var stored = weightsMode is { } mode ? CheckpointWeights.Open(dir, mode) : null;
            using var network = stored is null ? ModelCheckpoint.Load(dir, TensorSettings.ParseDevice(result.GetValue(device)!),
                TensorSettings.ParseDtype(result.GetValue(dtype)!)) : null;
            ExpertParallelInference? experts = null;
            if (expertParallel is not null)
            {
                experts = new ExpertParallelInference(network!, world, expertParallel);
                experts.Replanned += replan => log.WriteLine($"[eplb] {replan}");
                log.WriteLine(ExpertParallelOptions.Describe(experts, expertParallel, torch));
            }
            using var dump = result.GetValue(dumpLogits) is { } path && world.Rank == 0 ? new StreamWriter(path) : null;
            Func<ForwardBackend>? makeBackend = experts is null && dump is null && stored is null ? null : () =>
            {
                var inner = experts?.CreateBackend()
                            ?? (stored is not null ? new FusedWeightsBackend(config, stored) : ForwardBackend.Create(network!, fused: !torch));
                return dump is null ? inner : new LogitsRecordingBackend(inner, rows => WriteLogits(dump, rows));
            };
            if (experts is null && torch) makeBackend ??= () => new TorchForwardBackend(network!);

            var watch = Stopwatch.StartNew();
            GenerationResult generated;
            if (text is not null)
            {
                var generator = new TextGenerator(network, ByteLevelBpeTokenizer.Load(dir), backend: makeBackend, config: config);
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
                var engine = network is null
                    ? new GenerationEngine(config, makeBackend!, speculative: speculative)
                    : new GenerationEngine(network, speculative: speculative, backend: makeBackend);
                generated = engine.Generate([request])[0];
                writer.WriteLine($"prompt:    {ids}");
                writer.WriteLine($"generated: {string.Join(",", generated.Tokens)}");
            }
            double seconds = watch.Elapsed.TotalSeconds;
            string acceptance = speculative ? $", MTP acceptance {generated.AcceptanceRate:P1} ({generated.AcceptedTokens}/{generated.DraftedTokens})" : "";
            string decodeRate = generated.Tokens.Length > 1 ? $", then {generated.DecodeTokensPerSecond:F1} tokens/s" : "";
            log.WriteLine(
                $"[{generated.Tokens.Length} tokens in {seconds:F2} s: first token {generated.TimeToFirstToken.TotalMilliseconds:F0} ms " +
                $"after a {generated.PromptTokens}-token prompt{decodeRate}; finish: {generated.FinishReason.ToString().ToLowerInvariant()}{acceptance}]");
            if (experts is not null)
                foreach (string line in ExpertParallelOptions.Summary(experts, experts.Observe()))
                    log.WriteLine(line);
            return 0;
        }
    }

    private static void WriteLogits(TextWriter dump, float[][] rows)
    {
        foreach (var row in rows)
            dump.WriteLine(string.Join(' ', row.Select(v => v.ToString("G9", CultureInfo.InvariantCulture))));
    }
}
