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
/// With prefix caching, full blocks are shared across sequences by content (<see cref="LatentBlockPool"/>):
/// <see cref="MatchPrefix"/> gives a new sequence the blocks of its prompt's longest cached prefix, and
/// <see cref="CommitPrefix"/> makes a sequence's full blocks findable by later ones.
/// </summary>
public sealed class PagedLatentCache : ILatentKvCache, IDisposable
{
    private readonly int _layers, _latentDim, _ropeDim;
    private readonly ScalarType _dtype;
    private readonly Device _device;
    private Tensor[] _pools;                                   // per layer: [blocks·blockSize, r_kv + d_r]
    private readonly LatentBlockPool _blocks = new();
    private readonly Dictionary<int, Sequence> _sequences = [];
    private int _nextSequenceId;
    private int[] _batch = [];

    private sealed class Sequence(int layers)
    {
        public List<int> Blocks { get; } = [];
        public long[] Lengths { get; } = new long[layers];

        /// <summary>Chain hashes of the first blocks, as far as they are full and their tokens known.</summary>
        public List<UInt128> Hashes { get; } = [];
    }

    /// <param name="layers">Cache layers: the main layers, plus the MTP layers when speculating.</param>
    /// <param name="prefixCaching">Share full blocks across sequences by content; a finished sequence's known blocks
    /// stay cached (idle) until evicted.</param>
    public PagedLatentCache(ModelConfig config, int layers, ScalarType dtype, Device device, int blockSize = 64, bool prefixCaching = false)
    {
        if (blockSize < 1) throw new ArgumentOutOfRangeException(nameof(blockSize));
        _layers = layers;
        _latentDim = config.KvLoraRank;
        _ropeDim = config.QkRopeHeadDim;
        _dtype = dtype;
        _device = device;
        BlockSize = blockSize;
        PrefixCaching = prefixCaching;
        _pools = Enumerable.Range(0, layers).Select(_ => NewPool(0)).ToArray();
    }

    public int BlockSize { get; }

    public bool PrefixCaching { get; }

    /// <summary>Blocks the pools hold (used or free).</summary>
    public int CapacityBlocks => (int)(_pools[0].shape[0] / BlockSize);

    /// <summary>Bytes the pools really allocate, all layers.</summary>
    public long AllocatedBytes => _pools.Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>Blocks sequences currently hold (a block shared by several counts once).</summary>
    public int BlocksInUse => _blocks.InUse;

    /// <summary>Cached blocks no sequence holds (prefix caching): kept for later prompts, evicted least recently used.</summary>
    public int IdleBlocks => _blocks.Idle;

    /// <summary>Holders of a block (tests and diagnostics).</summary>
    internal int References(int block) => _blocks.References(block);

    /// <summary>Idle cached blocks, least recently used first.</summary>
    internal IEnumerable<int> IdleOrder => _blocks.IdleOrder;

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
        foreach (int block in Get(id).Blocks) _blocks.Release(block);
        _sequences.Remove(id);
    }

    /// <summary>
    /// Gives a new, empty sequence the cached blocks of the longest prefix of <paramref name="tokens"/> made of full
    /// blocks, at most <paramref name="maxTokens"/> tokens (a prompt keeps its last token out: its logits are needed).
    /// Every layer then holds that many entries. Returns them (0 without prefix caching).
    /// </summary>
    public int MatchPrefix(int id, IReadOnlyList<long> tokens, int maxTokens)
    {
        var sequence = Get(id);
        if (sequence.Blocks.Count > 0) throw new InvalidOperationException($"sequence {id} already holds entries");
        if (!PrefixCaching) return 0;
        UInt128 parent = 0;
        for (int start = 0; start + BlockSize <= Math.Min(maxTokens, tokens.Count); start += BlockSize)
        {
            var hash = LatentBlockPool.Chain(parent, tokens, start, BlockSize);
            if (!_blocks.TryFind(hash, out int block)) break;
            _blocks.Retain(block);
            sequence.Blocks.Add(block);
            sequence.Hashes.Add(hash);
            parent = hash;
        }
        long matched = (long)sequence.Blocks.Count * BlockSize;
        Array.Fill(sequence.Lengths, matched);
        return (int)matched;
    }

    /// <summary>
    /// Makes the sequence's full blocks findable by later prompts: <paramref name="tokens"/> are the tokens whose entries
    /// it holds, in order (prompt, then generated tokens fed back). Only blocks every layer has filled count.
    /// </summary>
    public void CommitPrefix(int id, IReadOnlyList<long> tokens)
    {
        if (!PrefixCaching) return;
        var sequence = Get(id);
        long filled = Math.Min(tokens.Count, sequence.Lengths.Min());
        for (int b = sequence.Hashes.Count; (long)(b + 1) * BlockSize <= filled; b++)
        {
            var hash = LatentBlockPool.Chain(b == 0 ? 0 : sequence.Hashes[b - 1], tokens, b * BlockSize, BlockSize);
            sequence.Hashes.Add(hash);
            _blocks.Register(sequence.Blocks[b], hash);
        }
    }

    /// <summary>Evicts idle cached blocks, least recently used first, until at most <paramref name="maxIdle"/> remain
    /// besides those <paramref name="keepFor"/>'s prefix would match. Returns the blocks evicted.</summary>
    public int TrimIdle(int maxIdle, IReadOnlyList<long>? keepFor = null)
    {
        var keep = new HashSet<int>();
        UInt128 parent = 0;
        for (int start = 0; keepFor is not null && start + BlockSize <= keepFor.Count; start += BlockSize)
        {
            parent = LatentBlockPool.Chain(parent, keepFor, start, BlockSize);
            if (!_blocks.TryFind(parent, out int block)) break;
            keep.Add(block);
        }
        return _blocks.Trim(Math.Max(0, maxIdle), keep);
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
            _blocks.Release(sequence.Blocks[^1]);
            sequence.Blocks.RemoveAt(sequence.Blocks.Count - 1);
        }
        int fullBlocks = (int)(sequence.Lengths.Min() / BlockSize);
        if (sequence.Hashes.Count > fullBlocks) sequence.Hashes.RemoveRange(fullBlocks, sequence.Hashes.Count - fullBlocks);
        // The tail block will be written again: if others read it or the prefix cache knows it, write into a copy.
        if (fullBlocks < sequence.Blocks.Count)
        {
            int tail = sequence.Blocks[fullBlocks];
            if (_blocks.References(tail) > 1 || _blocks.IsKnown(tail)) sequence.Blocks[fullBlocks] = CopyBlock(tail);
        }
    }

    /// <summary>A new block holding a copy of <paramref name="block"/>'s rows in every layer; the old one is released.</summary>
    private int CopyBlock(int block)
    {
        int copy = TakeBlock();
        using (no_grad())
            foreach (var pool in _pools)
                pool.narrow(0, (long)copy * BlockSize, BlockSize).copy_(pool.narrow(0, (long)block * BlockSize, BlockSize));
        _blocks.Release(block);
        return copy;
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
        for (int i = 0; i < needed; i++) sequence.Blocks.Add(TakeBlock());
    }

    /// <summary>A block for new entries: free or evicted, else the pools double.</summary>
    private int TakeBlock()
    {
        if (_blocks.TryTake(out int block)) return block;
        Grow(Math.Max(CapacityBlocks + 1, 2 * CapacityBlocks));
        return _blocks.TryTake(out block) ? block : throw new InvalidOperationException("a grown cache has no free block");
    }

    private void Grow(int blocks)
    {
        int old = CapacityBlocks;
        for (int l = 0; l < _layers; l++)
        {
            _pools[l] = Regrow(_pools[l], blocks);
        }
        _blocks.Add(blocks - old);
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
