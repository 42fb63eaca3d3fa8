using System.CommandLine;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 init`: a randomly initialized checkpoint (report init, std 0.006) from a preset or a config.json.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset") { Description = $"One of {string.Join(", ", ModelPresets.Names)}" };
        var config = new Option<string?>("--config") { Description = "A config.json to use instead of a preset" };
        var seed = new Option<long>("--seed") { Description = "Initialization seed", DefaultValueFactory = _ => 0 };
        var dtype = CliOptions.Dtype("bf16");
        var fp8 = new Option<bool>("--fp8") { Description = "Store block weights as FP8 E4M3 with 128x128 scales" };
        var maxShard = new Option<long>("--max-shard-mb") { Description = "Largest shard file in MiB", DefaultValueFactory = _ => 5120 };
        var output = new Option<string>("--out", "-o") { Description = "Output model directory", Required = true };
        var command = new Command("init", "Create a checkpoint with random weights") { preset, config, seed, dtype, fp8, maxShard, output };
        command.SetAction(result =>
        {
            var modelConfig = ResolveConfig(result.GetValue(preset), result.GetValue(config));
            string dir = result.GetValue(output)!;
            using var model = new DeepSeekV3ForCausalLM(modelConfig);
            WeightInitializer.Initialize(model, result.GetValue(seed));
            var options = new ModelCheckpoint.SaveOptions
            {
                Dtype = TensorSettings.ParseDtype(result.GetValue(dtype)!),
                Fp8 = result.GetValue(fp8),
                MaxShardBytes = result.GetValue(maxShard) << 20,
            };
            ModelCheckpoint.Save(model, dir, options);
            var writer = result.InvocationConfiguration.Output;
            writer.WriteLine($"wrote {dir}: {ModelSummary.Count(model.ParameterCount)} parameters, " +
                             $"{(options.Fp8 ? "fp8 e4m3 block-scaled" : TensorSettings.Name(options.Dtype))}");
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
