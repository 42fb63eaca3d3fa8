using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Cli.Commands;

/// <summary>`dsv3 logits`: the model's logits for given token ids (last position, or all), for cross-checks.</summary>
internal static class LogitsCommand
{
    public static Command Create()
    {
        var model = CliOptions.Model();
        var tokens = CliOptions.Tokens();
        var allPositions = new Option<bool>("--all-positions") { Description = "Print logits for every position, not just the last" };
        var json = new Option<bool>("--json") { Description = "Print JSON: {\"tokens\": [...], \"logits\": [[...], ...]}" };
        var device = CliOptions.Device();
        var dtype = CliOptions.Dtype("f32");
        var attention = CliOptions.Attention();
        var command = new Command("logits", "Print the logits a model gives for token ids")
            { model, tokens, allPositions, json, device, dtype, attention };
        command.SetAction(result =>
        {
            string dir = result.GetValue(model)!;
            var config = ModelCheckpoint.LoadConfig(dir);
            long[] ids = TensorSettings.ParseTokens(result.GetValue(tokens)!, config.VocabSize);
            var dev = TensorSettings.ParseDevice(result.GetValue(device)!);
            using var network = ModelCheckpoint.Load(dir, dev, TensorSettings.ParseDtype(result.GetValue(dtype)!));
            using var _ = no_grad();
            using var input = tensor(ids, device: dev).unsqueeze(0);
            using var output = network.Forward(input, new ForwardContext { Mode = CliOptions.ParseAttention(result.GetValue(attention)!) });
            using var logits = output.Logits[0].to(ScalarType.Float32).cpu();                       // [seq, vocab]
            int first = result.GetValue(allPositions) ? 0 : ids.Length - 1;
            var rows = Enumerable.Range(first, ids.Length - first)
                .Select(p => logits[p].data<float>().ToArray()).ToList();
            var writer = result.InvocationConfiguration.Output;
            if (result.GetValue(json))
                writer.WriteLine(JsonSerializer.Serialize(new { tokens = ids, first_position = first, logits = rows }));
            else
                for (int i = 0; i < rows.Count; i++)
                    writer.WriteLine($"{first + i}\t" + string.Join(" ", rows[i].Select(v => v.ToString("G9", CultureInfo.InvariantCulture))));
        });
        return command;
    }
}
