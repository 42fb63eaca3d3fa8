using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>One token per sequence per step: every running sequence's last token in one batched pass (in chunks of
/// the backend's <see cref="ForwardBackend.MaxRows"/>), each at its own position.</summary>
internal sealed class PlainDecoding(ForwardBackend backend) : IDecodingStrategy
{
    public int CacheLayers => backend.Config.NumHiddenLayers;

    public void Prefill(GenerationSequence sequence, int tokens)
    {
        sequence.Cache.SetBatch(sequence.CacheId);
        var ids = sequence.Request.Prompt.Skip(sequence.PrefilledTokens).Take(tokens).ToArray();
        using var output = backend.Prefill(ids, sequence.Cache, everyHidden: false);
        sequence.PrefilledTokens += ids.Length;
        if (sequence.PrefilledTokens == sequence.Request.Prompt.Count)
            sequence.Emit(sequence.Sampler.Sample(output.Logits[0, -1]));
    }

    public void Step(IReadOnlyList<GenerationSequence> running)
    {
        foreach (var chunk in running.Chunk(backend.MaxRows))
        {
            using var scope = NewDisposeScope();
            var cache = chunk[0].Cache;
            cache.SetBatch(chunk.Select(s => s.CacheId).ToArray());
            var input = tensor(chunk.Select(s => s.Tokens[^1]).ToArray()).unsqueeze(1);              // [b, 1]
            var output = backend.Step(input, cache);
            for (int row = 0; row < chunk.Length; row++)
                chunk[row].Emit(chunk[row].Sampler.Sample(output.Logits[row, 0]));
        }
    }

    public void Forget(GenerationSequence sequence) { }

    public void Dispose() { }
}
