using DeepSeekV3.Configuration;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// The latent KV cache in fixed-size blocks (64 tokens by default, like FlashMLA's paged cache). Each layer owns one
/// pool of block slots [slots, kv_lora_rank + qk_rope_head_dim]: one row per token, the latent then the RoPE key
/// (FlashMLA's 576 = 512 + 64 layout for V3); each sequence owns a block table. Sequences of different lengths live side by side and batch together without moving their entries;
/// a forward pass over a batch gathers each sequence's slots and masks the padding. Blocks come back to a free list
/// when a sequence is removed or truncated. Pools grow on demand (allocated per request, never sized up front).
/// </summary>
public sealed class PagedLatentCache : ILatentKvCache, IDisposable
{
    private readonly int _layers, _latentDim, _ropeDim;
    private readonly ScalarType _dtype;
    private readonly Device _device;
    private Tensor[] _pools;                                   // per layer: [blocks·blockSize, r_kv + d_r]
    private readonly Stack<int> _freeBlocks = new();
    private readonly Dictionary<int, Sequence> _sequences = [];
    private int _nextSequenceId;
    private int[] _batch = [];

    private sealed class Sequence(int layers)
    {
        public List<int> Blocks { get; } = [];
        public long[] Lengths { get; } = new long[layers];
    }

    /// <param name="layers">Cache layers: the main layers, plus the MTP layers when speculating.</param>
    public PagedLatentCache(ModelConfig config, int layers, ScalarType dtype, Device device, int blockSize = 64)
    {
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize));
        _layers = layers;
        _latentDim = config.KvLoraRank;
        _ropeDim = config.QkRopeHeadDim;
        _dtype = dtype;
        _device = device;
        BlockSize = blockSize;
        _pools = Enumerable.Range(0, layers).Select(_ => NewPool(0)).ToArray();
    }

    public int BlockSize { get; }

    /// <summary>Blocks the pools hold (used or free).</summary>
    public int CapacityBlocks => (int)(_pools[0].shape[0] / BlockSize);

    /// <summary>Bytes the pools really allocate, all layers.</summary>
    public long AllocatedBytes => _pools.Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>Blocks sequences currently hold.</summary>
    public int BlocksInUse => _sequences.Values.Sum(s => s.Blocks.Count);

    /// <summary>Bytes of the blocks sequences currently hold, all layers.</summary>
    public long BytesInUse => BlocksInUse * BlockBytes;

    private long BlockBytes => (long)BlockSize * (_latentDim + _ropeDim) * _layers * _pools[0].ElementSize;

    public int AddSequence()
    {
        int id = _nextSequenceId++;
        _sequences[id] = new Sequence(_layers);
        return id;
    }

    public void RemoveSequence(int id)
    {
        foreach (int block in Get(id).Blocks) _freeBlocks.Push(block);
        _sequences.Remove(id);
    }

    /// <summary>Tokens stored for sequence <paramref name="id"/> in <paramref name="layer"/>.</summary>
    public long Length(int id, int layer = 0) => Get(id).Lengths[layer];

    /// <summary>The sequences of the next forward pass, one per batch row, in order.</summary>
    public void SetBatch(params int[] sequenceIds)
    {
        foreach (int id in sequenceIds) Get(id);
        _batch = sequenceIds;
    }

    /// <summary>Forgets entries at position ≥ <paramref name="length"/> of layers [first, first + count) of a
    /// sequence (speculative-decoding rollback); freed tail blocks return to the pool.</summary>
    public void Truncate(int id, long length, int firstLayer = 0, int layerCount = -1)
    {
        var sequence = Get(id);
        if (layerCount < 0) layerCount = _layers - firstLayer;
        for (int l = firstLayer; l < firstLayer + layerCount; l++)
            sequence.Lengths[l] = Math.Min(sequence.Lengths[l], length);
        long longest = sequence.Lengths.Max();
        int blocksNeeded = (int)((longest + BlockSize - 1) / BlockSize);
        while (sequence.Blocks.Count > blocksNeeded)
        {
            _freeBlocks.Push(sequence.Blocks[^1]);
            sequence.Blocks.RemoveAt(sequence.Blocks.Count - 1);
        }
    }

    public Tensor Positions(int layer, long steps, Device device)
    {
        var positions = new long[_batch.Length * steps];
        for (int row = 0; row < _batch.Length; row++)
            for (long s = 0; s < steps; s++)
                positions[row * steps + s] = _sequences[_batch[row]].Lengths[layer] + s;
        return tensor(positions, device: device).view(_batch.Length, steps);
    }

    public LatentCacheView Append(int layer, Tensor latent, Tensor ropeKey)
    {
        long batch = latent.shape[0], steps = latent.shape[1];
        if (batch != _batch.Length)
            throw new InvalidOperationException($"batch of {batch} rows but SetBatch named {_batch.Length} sequences");

        // Write: each row's new entries go to the slots after that sequence's current length.
        var writeSlots = new long[batch * steps];
        for (int row = 0; row < batch; row++)
        {
            var sequence = _sequences[_batch[row]];
            long start = sequence.Lengths[layer];
            EnsureBlocks(sequence, start + steps);
            for (long s = 0; s < steps; s++)
                writeSlots[row * steps + s] = Slot(sequence, start + s);
            sequence.Lengths[layer] = start + steps;
        }
        using (var slots = tensor(writeSlots, device: _device))
        using (no_grad())
        {
            var entries = cat([latent.detach().reshape(-1, _latentDim), ropeKey.detach().reshape(-1, _ropeDim)], 1);
            _pools[layer].index_copy_(0, slots, entries.to(_dtype));
        }

        // Gather: every row's entries, padded to the longest row; padding gets position long.MaxValue.
        long longest = _batch.Max(id => _sequences[id].Lengths[layer]);
        var readSlots = new long[batch * longest];
        var keyPositions = new long[batch * longest];
        for (int row = 0; row < batch; row++)
        {
            var sequence = _sequences[_batch[row]];
            for (long t = 0; t < longest; t++)
            {
                bool valid = t < sequence.Lengths[layer];
                readSlots[row * longest + t] = valid ? Slot(sequence, t) : 0;
                keyPositions[row * longest + t] = valid ? t : long.MaxValue;
            }
        }
        var read = tensor(readSlots, device: _device);
        var gathered = _pools[layer].index_select(0, read).view(batch, longest, _latentDim + _ropeDim);
        var gatheredLatent = gathered.narrow(-1, 0, _latentDim).to(latent.dtype);
        var gatheredRope = gathered.narrow(-1, _latentDim, _ropeDim).to(ropeKey.dtype);
        return new LatentCacheView(gatheredLatent, gatheredRope, tensor(keyPositions, device: _device).view(batch, longest));
    }

    // Raw access for the fused decoder (FusedDecoder), which writes and reads the same slots Append does.

    /// <summary>The sequences named by the last <see cref="SetBatch"/>, one per batch row.</summary>
    internal IReadOnlyList<int> Batch => _batch;

    internal bool IsBf16 => _dtype == ScalarType.BFloat16;

    internal ScalarType Dtype => _dtype;

    /// <summary>Cache layers (main, plus MTP when speculating).</summary>
    internal int Layers => _layers;

    /// <summary>Elements of one token's row: kv_lora_rank + qk_rope_head_dim.</summary>
    internal int RowWidth => _latentDim + _ropeDim;

    /// <summary>Makes room for <paramref name="steps"/> more entries of sequence <paramref name="id"/> in
    /// <paramref name="layer"/>, counts them as stored, and returns the position of the first. Pools may grow (move):
    /// take pool addresses after reserving.</summary>
    internal long Reserve(int id, int layer, int steps)
    {
        var sequence = Get(id);
        long start = sequence.Lengths[layer];
        EnsureBlocks(sequence, start + steps);
        sequence.Lengths[layer] = start + steps;
        return start;
    }

    /// <summary>The block table of a sequence: position p lives in slot Blocks[p / BlockSize]·BlockSize + p % BlockSize.</summary>
    internal IReadOnlyList<int> Blocks(int id) => Get(id).Blocks;

    /// <summary>Start of a layer's pool [slots, kv_lora_rank + qk_rope_head_dim] in the cache dtype. Valid until the
    /// next <see cref="Reserve"/> or <see cref="Append"/>.</summary>
    internal unsafe nint Pool(int layer)
    {
        fixed (byte* pool = _pools[layer].bytes)
            return (nint)pool;
    }

    /// <summary>The pool slot (row) holding position <paramref name="position"/> of sequence <paramref name="id"/>.</summary>
    internal long Slot(int id, long position) => Slot(Get(id), position);

    private long Slot(Sequence sequence, long position) =>
        (long)sequence.Blocks[(int)(position / BlockSize)] * BlockSize + position % BlockSize;

    private void EnsureBlocks(Sequence sequence, long tokens)
    {
        int needed = (int)((tokens + BlockSize - 1) / BlockSize) - sequence.Blocks.Count;
        if (needed <= 0) return;
        if (_freeBlocks.Count < needed)
            Grow(Math.Max(CapacityBlocks + needed - _freeBlocks.Count, 2 * CapacityBlocks));
        for (int i = 0; i < needed; i++) sequence.Blocks.Add(_freeBlocks.Pop());
    }

    private void Grow(int blocks)
    {
        int old = CapacityBlocks;
        for (int l = 0; l < _layers; l++)
        {
            _pools[l] = Regrow(_pools[l], blocks);
        }
        for (int b = blocks - 1; b >= old; b--) _freeBlocks.Push(b);
    }

    private Tensor Regrow(Tensor pool, int blocks)
    {
        var grown = NewPool(blocks);
        if (pool.shape[0] > 0) grown.narrow(0, 0, pool.shape[0]).copy_(pool);
        pool.Dispose();
        return grown;
    }

    private Tensor NewPool(long blocks) =>
        zeros([blocks * BlockSize, _latentDim + _ropeDim], _dtype, _device).DetachFromDisposeScope();

    private Sequence Get(int id) =>
        _sequences.TryGetValue(id, out var s) ? s : throw new ArgumentException($"no sequence {id} in this cache");

    public void Dispose()
    {
        foreach (var t in _pools) t.Dispose();
        _pools = [];
        _sequences.Clear();
    }
}
