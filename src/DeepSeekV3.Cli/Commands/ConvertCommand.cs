using System.CommandLine;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 convert`: rewrite a model directory in another storage dtype (bf16/f32) or as FP8 block-scaled
/// (like DeepSeek's fp8_cast_bf16, both ways); tokenizer files come along.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var dtype = CliOptions.Dtype("bf16");
        var fp8 = new Option<bool>("--fp8") { Description = "Store block weights as FP8 E4M3 with 128x128 scales" };
        var output = new Option<string>("--out", "-o") { Description = "Output model directory", Required = true };
        var command = new Command("convert", "Rewrite a checkpoint as bf16, f32 or FP8") { model, dtype, fp8, output };
        command.SetAction(result =>
        {
            string source = result.GetValue(model)!, target = result.GetValue(output)!;
            if (Path.GetFullPath(source).TrimEnd('/') == Path.GetFullPath(target).TrimEnd('/'))
                throw new InvalidArgumentException("--out must differ from --model");
            using var network = ModelCheckpoint.Load(source);
            var options = new ModelCheckpoint.SaveOptions { Dtype = TensorSettings.ParseDtype(result.GetValue(dtype)!), Fp8 = result.GetValue(fp8) };
            ModelCheckpoint.Save(network, target, options);
            TokenizerFiles.CopyTo(source, target);
            long bytes = Directory.GetFiles(target).Sum(f => new FileInfo(f).Length);
            result.InvocationConfiguration.Output.WriteLine(
                $"wrote {target}: {ModelSummary.Count(network.ParameterCount)} parameters, " +
                $"{(options.Fp8 ? "fp8 e4m3 block-scaled" : TensorSettings.Name(options.Dtype))}, {bytes / 1048576.0:F1} MiB");
        });
        return command;
    }
}
