namespace DeepSeekV3.Training.Data;

/// <summary>Documents held in memory (tests, small inputs).</summary>
public sealed class InMemoryDocuments(IReadOnlyList<int[]> documents) : IDocumentCollection
{
    public long Count => documents.Count;
    public long TotalTokens => documents.Sum(d => (long)d.Length);
    public ReadOnlySpan<int> Document(long index) => documents[(int)index];
}
