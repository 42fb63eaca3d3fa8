using System.Runtime.InteropServices;

namespace DeepSeekV3.Inference;

/// <summary>Copies one sequence's latent KV rows out of a <see cref="PagedLatentCache"/> and into another one, as raw
/// bytes [layers, tokens, kv_lora_rank + qk_rope_head_dim] (layer-major), so they leave and arrive bit for bit.</summary>
internal static unsafe class LatentCacheRows
{
    public static byte[] Export(PagedLatentCache cache, int id, int tokens)
    {
        int rowBytes = cache.RowWidth * PrefilledRequest.ElementSize(cache.Dtype);
        var rows = new byte[(long)cache.Layers * tokens * rowBytes];
        for (int layer = 0; layer < cache.Layers; layer++)
        {
            if (cache.Length(id, layer) < tokens)
                throw new InvalidOperationException($"layer {layer} holds {cache.Length(id, layer)} of the {tokens} rows to export");
            nint pool = cache.Pool(layer);
            for (int t = 0; t < tokens; t++)
                Marshal.Copy(pool + (nint)(cache.Slot(id, t) * rowBytes), rows, (int)(((long)layer * tokens + t) * rowBytes), rowBytes);
        }
        return rows;
    }

    /// <summary>Appends <paramref name="tokens"/> rows per layer to an empty sequence.</summary>
    public static void Import(PagedLatentCache cache, int id, ReadOnlySpan<byte> rows, int tokens)
    {
        int rowBytes = cache.RowWidth * PrefilledRequest.ElementSize(cache.Dtype);
        if (rows.Length != (long)cache.Layers * tokens * rowBytes)
            throw new InvalidOperationException($"{rows.Length} bytes of rows; {cache.Layers} layers × {tokens} tokens × {rowBytes} bytes expected");
        for (int layer = 0; layer < cache.Layers; layer++)
            if (cache.Reserve(id, layer, tokens) != 0)
                throw new InvalidOperationException($"sequence {id} already has entries in layer {layer}");
        for (int layer = 0; layer < cache.Layers; layer++)
        {
            nint pool = cache.Pool(layer);                         // after every Reserve: pools may have moved
            for (int t = 0; t < tokens; t++)
                rows.Slice((int)(((long)layer * tokens + t) * rowBytes), rowBytes)
                    .CopyTo(new Span<byte>((byte*)(pool + (nint)(cache.Slot(id, t) * rowBytes)), rowBytes));
        }
    }
}
