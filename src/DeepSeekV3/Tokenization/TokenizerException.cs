namespace DeepSeekV3.Tokenization;

/// <summary>
/// A tokenizer file (tokenizer.json, tokenizer_config.json, training input) is missing, malformed or uses a feature
/// this port does not implement. The message names the file and the field.
/// </summary>
public class TokenizerFileException : DeepSeekV3Exception
{
    public TokenizerFileException(string message) : base(message) { }
    public TokenizerFileException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Text or ids given to a tokenizer cannot be encoded or decoded (invalid UTF-8, lone surrogates...).</summary>
public class TokenizerInputException : DeepSeekV3Exception
{
    public TokenizerInputException(string message) : base(message) { }
}
