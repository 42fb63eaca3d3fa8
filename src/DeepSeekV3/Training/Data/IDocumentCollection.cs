namespace DeepSeekV3.Training.Data;

/// <summary>Tokenized documents, addressed by index (without EOS; the packer adds it).</summary>
public interface IDocumentCollection
{
    long Count { get; }
    long TotalTokens { get; }
    ReadOnlySpan<int> Document(long index);
}
