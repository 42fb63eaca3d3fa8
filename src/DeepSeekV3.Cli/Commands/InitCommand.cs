using System.CommandLine;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Cli.Commands;

/// <summary>
/// `dsv3 init`: a randomly initialized checkpoint (report init, std 0.006) from a preset or a config.json, written a
/// tensor at a time without building the model (<see cref="StreamingInitializer"/>), so a 16B model needs memory
/// for its largest tensor only.
/// </summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = $"One of {string.Join(", ", ModelPresets.Names)}" };
        var config = new Option<string?>("--config") { Description = "A config.json to use instead of a preset" };
        var seed = new Option<long>("--seed") { Description = "Initialization seed", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype")
        {
            Description = "f32, bf16, f16, or fp8 (= --fp8: block weights FP8 E4M3 with 128x128 scales, the rest bf16)",
            DefaultValueFactory = _ => "bf16",
        };
        var fp8 = new Option<bool>("--fp8") { Description = "Store block weights as FP8 E4M3 with 128x128 scales" };
        var maxShard = new Option<long>("--max-shard-mb") { Description = "Largest shard file in MiB", DefaultValueFactory = _ => 5120 };
        var output = new Option<string>("--out", "-o") { Description = "Output model directory", Required = true };
        var command = new Command("init", "Create a checkpoint with random weights") { preset, config, seed, dtype, fp8, maxShard, output };
        command.SetAction(result =>
        {
            var modelConfig = ResolveConfig(result.GetValue(preset), result.GetValue(config));
            string dir = result.GetValue(output)!;
            string dtypeName = result.GetValue(dtype)!.Trim();
            bool dtypeFp8 = dtypeName.Equals("fp8", StringComparison.OrdinalIgnoreCase);
            var options = new ModelCheckpoint.SaveOptions
            {
                // FP8 covers the block weights only; embedding, head, norms and router stay bf16 as in DeepSeek's release.
                Dtype = dtypeFp8 ? ScalarType.BFloat16 : TensorSettings.ParseDtype(dtypeName, "f32, bf16, f16 or fp8"),
                Fp8 = dtypeFp8 || result.GetValue(fp8),
                MaxShardBytes = result.GetValue(maxShard) << 20,
            };
            var size = new ModelSize(modelConfig);
            var progress = new ByteProgressBar(result.InvocationConfiguration.Error, $"init {Path.GetFileName(Path.GetFullPath(dir))}");
            var plan = StreamingInitializer.Write(modelConfig, dir, options, result.GetValue(seed), progress: progress);
            result.InvocationConfiguration.Output.WriteLine(
                $"wrote {dir}: {ModelSummary.Count(size.TotalParameters + size.MtpParameters)} parameters, " +
                $"{(options.Fp8 ? "fp8 e4m3 block-scaled" : TensorSettings.Name(options.Dtype))}, " +
                $"{plan.Sum(p => p.ByteLength) / 1e9:F2} GB");
        });
        return command;
    }

    internal static ModelConfig ResolveConfig(string? preset, string? configPath) => (preset, configPath) switch
    {
        (null, null) => throw new InvalidArgumentException("give --preset NAME or --config FILE"),
        (not null, not null) => throw new InvalidArgumentException("give either --preset or --config, not both"),
        (not null, null) => ModelPresets.Get(preset),
        _ => ModelConfig.Load(configPath!),
    };
}
