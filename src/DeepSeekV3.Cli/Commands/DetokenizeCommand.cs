using System.CommandLine;
using System.Text;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary><c>dsv3 detokenize --tokenizer PATH [--skip-special] [--input FILE]</c>: the inverse of tokenize.</summary>
internal static class DetokenizeCommand
{
    internal static Command Create()
    {
        var tokenizer = TokenizerOptions.Path();
        var skipSpecial = new Option<bool>("--skip-special") { Description = "Drop special tokens (BOS, EOS, PAD...)" };
        var input = TokenizerOptions.Input("JSON arrays of ids, one per line (default: stdin)");
        var command = new Command("detokenize", "Turn JSON arrays of token ids (one per line) back into text")
        {
            tokenizer, skipSpecial, input,
        };
        command.SetAction(parse =>
        {
            var tok = ByteLevelBpeTokenizer.Load(parse.GetValue(tokenizer)!);
            using var reader = new StreamReader(TokenizerOptions.OpenInput(parse.GetValue(input)), Encoding.UTF8);
            using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            LineTokenization.DecodeLines(tok, reader, stdout, parse.GetValue(skipSpecial));
            return 0;
        });
        return command;
    }
}
