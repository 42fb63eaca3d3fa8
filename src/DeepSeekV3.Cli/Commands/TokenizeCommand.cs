using System.CommandLine;
using System.Text;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Cli.Commands;

/// <summary><c>dsv3 tokenize --tokenizer PATH [--special] [--input FILE]</c>: one JSON array of ids per input line.</summary>
internal static class TokenizeCommand
{
    internal static Command Create()
    {
        var tokenizer = TokenizerOptions.Path();
        var special = new Option<bool>("--special")
        {
            Description = "Add special tokens as transformers does (BOS per line when tokenizer_config.json says add_bos_token)",
        };
        var input = TokenizerOptions.Input("UTF-8 text to tokenize (default: stdin)");
        var command = new Command("tokenize", "Tokenize text: one JSON array of ids per input line, each line with its own newline")
        {
            tokenizer, special, input,
        };
        command.SetAction(parse =>
        {
            var tok = ByteLevelBpeTokenizer.Load(parse.GetValue(tokenizer)!);
            using var source = TokenizerOptions.OpenInput(parse.GetValue(input));
            using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            LineTokenization.EncodeLines(tok, source, stdout, parse.GetValue(special));
            return 0;
        });
        return command;
    }
}
