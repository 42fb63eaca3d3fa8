using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// Moves raw tensor bytes between native memory/streams and CPU tensors without a managed copy of the whole
/// tensor. TorchSharp exposes storage only as a <see cref="Span{T}"/> (int-sized), so big tensors go in chunks of
/// whole elements through flat views.
/// </summary>
internal static class TensorBytes
{
    private const long ChunkBytes = 1L << 30;

    /// <summary>Fills a new CPU tensor [shape] of <paramref name="dtype"/> from native memory; caller owns it.</summary>
    public static unsafe Tensor FromMemory(byte* source, ScalarType dtype, long[] shape, int elementSize)
    {
        using var scope = NewDisposeScope();
        var result = empty(shape, dtype, CPU);
        CopyChunks(result, elementSize, (span, offset) => new ReadOnlySpan<byte>(source + offset, span.Length).CopyTo(span));
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Writes the tensor's elements, row-major, as raw little-endian bytes.</summary>
    public static void WriteTo(Tensor tensor, Stream destination, int elementSize)
    {
        using var scope = NewDisposeScope();
        var cpuTensor = tensor.cpu().contiguous();
        CopyChunks(cpuTensor, elementSize, (span, _) => destination.Write(span));
    }

    private delegate void ChunkAction(Span<byte> chunk, long byteOffset);

    private static void CopyChunks(Tensor contiguous, int elementSize, ChunkAction action)
    {
        long count = contiguous.NumberOfElements;
        if (count == 0)
            return;
        var flat = contiguous.reshape(count); // a view: the tensor is contiguous
        long chunkElements = ChunkBytes / elementSize;
        for (long start = 0; start < count; start += chunkElements)
        {
            using var chunk = flat.narrow(0, start, Math.Min(chunkElements, count - start));
            action(chunk.bytes, start * elementSize);
        }
    }
}
