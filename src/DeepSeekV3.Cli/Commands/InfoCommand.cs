using System.CommandLine;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 info DIR | --preset NAME`: config summary, parameter counts and KV-cache size per token.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var directory = new Argument<string?>("model-dir") { Description = "Model directory", Arity = ArgumentArity.ZeroOrOne };
        var preset = new Option<string?>("--preset") { Description = $"One of {string.Join(", ", ModelPresets.Names)}" };
        var command = new Command("info", "Describe a model: shape, parameters, activated parameters, KV cache") { directory, preset };
        command.SetAction(result =>
        {
            string? dir = result.GetValue(directory);
            var config = dir is not null
                ? ModelCheckpoint.LoadConfig(dir)
                : InitCommand.ResolveConfig(result.GetValue(preset), null);
            var writer = result.InvocationConfiguration.Output;
            writer.WriteLine(dir ?? $"preset {result.GetValue(preset)}");
            foreach (var (name, value) in ModelSummary.Describe(config))
                writer.WriteLine($"  {name,-24} {value}");
            if (dir is not null)
            {
                using var reader = CheckpointReader.Open(dir);
                long bytes = Directory.GetFiles(dir, "*.safetensors").Sum(f => new FileInfo(f).Length);
                writer.WriteLine($"  {"checkpoint",-24} {reader.TensorNames.Count} tensors, {bytes / 1048576.0:F1} MiB");
            }
        });
        return command;
    }
}
