namespace DeepSeekV3.Tokenization;

/// <summary>
/// An entry of tokenizer.json's <c>added_tokens</c>: matched as a whole in raw text before any pre-tokenization and
/// never split. <see cref="Special"/> tokens are the ones <c>skipSpecialTokens</c> drops when decoding; DeepSeek-V3's
/// FIM, User/Assistant and tool tokens are added but not special.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false);
