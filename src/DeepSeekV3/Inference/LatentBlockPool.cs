using System.Buffers.Binary;
using System.Security.Cryptography;

namespace DeepSeekV3.Inference;

/// <summary>
/// Who holds each block of a <see cref="PagedLatentCache"/>, and which full blocks the prefix cache knows by content
/// (vLLM's automatic prefix caching). A block is held by as many sequences as read it (reference count); when the last
/// lets go it goes back to the free list, unless its content is known: then it stays, idle, in least-recently-used
/// order, so a later prompt with the same prefix takes it back instead of prefilling it again. A block is known by the
/// chain hash of every token up to and including its own (<see cref="Chain"/>): equal hashes mean equal prefixes, so
/// equal latent entries. Only full blocks are ever known, and a known block is never written again (the cache copies a
/// shared or known block before writing into it), so sharing cannot corrupt anyone's entries. Idle known blocks are
/// taken for new content only when the free list is empty (least recently used first), or when the owner trims them.
/// </summary>
internal sealed class LatentBlockPool
{
    private readonly List<int> _references = [];
    private readonly Stack<int> _free = new();
    private readonly Dictionary<UInt128, int> _blockOf = [];
    private readonly Dictionary<int, UInt128> _hashOf = [];
    private readonly LinkedList<int> _idle = new();                      // known, unreferenced; oldest first
    private readonly Dictionary<int, LinkedListNode<int>> _idleNode = [];

    /// <summary>Blocks the pool numbers (held, idle or free).</summary>
    public int Capacity => _references.Count;

    /// <summary>Blocks at least one sequence holds.</summary>
    public int InUse { get; private set; }

    /// <summary>Known blocks no sequence holds: cached content that costs memory until evicted.</summary>
    public int Idle => _idle.Count;

    /// <summary>Blocks whose content the prefix cache knows (held or idle).</summary>
    public int Known => _blockOf.Count;

    public int References(int block) => _references[block];

    public bool IsKnown(int block) => _hashOf.ContainsKey(block);

    /// <summary>Numbers <paramref name="count"/> more blocks (the pools grew), all free.</summary>
    public void Add(int count)
    {
        int old = _references.Count;
        for (int i = 0; i < count; i++) _references.Add(0);
        for (int b = old + count - 1; b >= old; b--) _free.Push(b);
    }

    /// <summary>A block for new content, held once: a free one, else the least recently used idle one (forgotten);
    /// false when neither exists (the pools must grow).</summary>
    public bool TryTake(out int block)
    {
        if (_free.Count == 0 && _idle.Count > 0) Evict(_idle.First!.Value);
        if (!_free.TryPop(out block)) return false;
        _references[block] = 1;
        InUse++;
        return true;
    }

    /// <summary>The block known by <paramref name="hash"/>, without taking it.</summary>
    public bool TryFind(UInt128 hash, out int block) => _blockOf.TryGetValue(hash, out block);

    /// <summary>One more holder of a block (a sequence whose prefix matched it).</summary>
    public void Retain(int block)
    {
        if (_references[block]++ == 0)
        {
            InUse++;
            if (_idleNode.Remove(block, out var node)) _idle.Remove(node);
        }
    }

    /// <summary>One holder fewer: the last one's block becomes idle if known, else free.</summary>
    public void Release(int block)
    {
        if (_references[block] <= 0) throw new InvalidOperationException($"block {block} released more often than held");
        if (--_references[block] > 0) return;
        InUse--;
        if (_hashOf.ContainsKey(block)) _idleNode[block] = _idle.AddLast(block);
        else _free.Push(block);
    }

    /// <summary>Makes a held full block known by <paramref name="hash"/>. Does nothing if another block already holds
    /// that content (two sequences prefilled the same prefix side by side: the first one's stays the cached copy).</summary>
    public void Register(int block, UInt128 hash)
    {
        if (_blockOf.ContainsKey(hash) || _hashOf.ContainsKey(block)) return;
        _blockOf[hash] = block;
        _hashOf[block] = hash;
    }

    /// <summary>Forgets a held block's content (it is about to be written).</summary>
    public void Unregister(int block)
    {
        if (_hashOf.Remove(block, out var hash)) _blockOf.Remove(hash);
    }

    /// <summary>Evicts idle blocks, least recently used first, until at most <paramref name="maxIdle"/> idle blocks
    /// outside <paramref name="keep"/> remain; blocks in <paramref name="keep"/> (a prompt about to match them) stay.
    /// Returns the blocks evicted.</summary>
    public int Trim(int maxIdle, IReadOnlySet<int> keep)
    {
        int evicted = 0, kept = _idle.Count(keep.Contains);
        for (var node = _idle.First; node is not null && _idle.Count - kept > maxIdle;)
        {
            var next = node.Next;
            if (!keep.Contains(node.Value))
            {
                Evict(node.Value);
                evicted++;
            }
            node = next;
        }
        return evicted;
    }

    /// <summary>The idle blocks, least recently used first.</summary>
    public IEnumerable<int> IdleOrder => _idle;

    private void Evict(int block)
    {
        _idle.Remove(_idleNode[block]);
        _idleNode.Remove(block);
        Unregister(block);
        _free.Push(block);
    }

    /// <summary>
    /// The hash of a block's tokens chained to its parent's hash (<paramref name="parent"/> = 0 for the first block), so
    /// it names the whole prefix up to the block's end. SHA-256 truncated to 128 bits: a collision, which would hand one
    /// prompt another's entries, is out of reach.
    /// </summary>
    public static UInt128 Chain(UInt128 parent, IReadOnlyList<long> tokens, int start, int count)
    {
        Span<byte> bytes = new byte[16 + 8 * count];
        BinaryPrimitives.WriteUInt128LittleEndian(bytes, parent);
        for (int i = 0; i < count; i++)
            BinaryPrimitives.WriteInt64LittleEndian(bytes[(16 + 8 * i)..], tokens[start + i]);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(bytes, digest);
        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }
}
