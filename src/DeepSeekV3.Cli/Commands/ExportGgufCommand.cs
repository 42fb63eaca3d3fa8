using System.CommandLine;
using DeepSeekV3.Checkpoints.Gguf;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 export-gguf`: a model directory as a GGUF file for llama.cpp's deepseek2 architecture.</summary>
internal static class ExportGgufCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var output = new Option<string>("--out", "-o") { Description = "Output .gguf file", Required = true };
        var type = new Option<string>("--type")
        {
            Description = "Tensor type: f32 (exact), f16 (half the size) or q8_0 (blocks of 32 int8 with an f16 scale, 8.5 bits per weight); vectors and the router stay f32",
            DefaultValueFactory = _ => "f32",
        };
        var tokenizer = new Option<string?>("--tokenizer")
        {
            Description = "An HF tokenizer.json (byte-level BPE) to embed; without it a byte-level placeholder vocabulary is written",
        };
        var command = new Command("export-gguf", "Export a model to GGUF for llama.cpp (architecture deepseek2)")
            { model, output, type, tokenizer };
        command.SetAction(result =>
        {
            var tensorType = ParseType(result.GetValue(type)!);
            string file = result.GetValue(output)!;
            GgufExporter.Export(result.GetValue(model)!, file, tensorType, result.GetValue(tokenizer));
            var written = GgufFile.Read(file);
            result.InvocationConfiguration.Output.WriteLine(
                $"wrote {file}: {written.Tensors.Count} tensors, {written.Metadata.Count} metadata keys, " +
                $"{new FileInfo(file).Length / (1024.0 * 1024.0):F1} MiB, {tensorType}");
        });
        return command;
    }

    private static GgufTensorType ParseType(string value) => value.ToLowerInvariant() switch
    {
        "f32" => GgufTensorType.F32,
        "f16" => GgufTensorType.F16,
        "q8_0" => GgufTensorType.Q8_0,
        _ => throw new InvalidArgumentException($"--type \"{value}\": expected f32, f16 or q8_0"),
    };
}
