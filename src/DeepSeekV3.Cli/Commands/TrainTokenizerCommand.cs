using System.CommandLine;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary><c>dsv3 train-tokenizer --input FILES --vocab-size N --out DIR</c>: a DeepSeek-V3-style byte-level BPE.</summary>
internal static class TrainTokenizerCommand
{
    internal static Command Create()
    {
        var input = new Option<string[]>("--input")
        {
            Description = "UTF-8 training text files",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var vocabSize = new Option<int>("--vocab-size")
        {
            Description = "Total vocabulary size, including BOS/EOS/PAD, the 256 bytes and the 15 FIM/chat/tool tokens",
            Required = true,
        };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Never merge pairs seen fewer times", DefaultValueFactory = _ => 2 };
        var output = new Option<string>("--out") { Description = "Directory for tokenizer.json and tokenizer_config.json", Required = true };
        var command = new Command("train-tokenizer", "Train a byte-level BPE with DeepSeek-V3's pre-tokenizer and special tokens")
        {
            input, vocabSize, minFrequency, output,
        };
        command.SetAction(parse =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var options = new BpeTrainerOptions(parse.GetValue(vocabSize), parse.GetValue(minFrequency));
            var tokenizer = BpeTrainer.TrainFiles(parse.GetValue(input)!, options, parse.GetValue(output)!);
            Console.Error.WriteLine($"train-tokenizer: {tokenizer.VocabSize} tokens ({tokenizer.Model.MergeCount} merges) in {watch.Elapsed.TotalSeconds:F1} s -> {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
