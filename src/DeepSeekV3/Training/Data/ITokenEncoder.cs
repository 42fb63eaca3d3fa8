namespace DeepSeekV3.Training.Data;

/// <summary>
/// What the data pipeline needs from a tokenizer: text → ids, and the ids of the end-of-sequence and the three FIM
/// tokens (PSM layout, report §4.1). <see cref="Name"/> identifies the vocabulary: cached token shards are reused only
/// by an encoder with the same name and vocabulary size.
/// </summary>
public interface ITokenEncoder
{
    string Name { get; }
    int VocabSize { get; }
    int EosId { get; }
    int FimBeginId { get; }
    int FimHoleId { get; }
    int FimEndId { get; }
    int[] Encode(string text);
}
