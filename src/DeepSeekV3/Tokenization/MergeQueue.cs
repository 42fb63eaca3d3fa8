namespace DeepSeekV3.Tokenization;

/// <summary>
/// A min-heap of 64-bit keys (merge rank in the high half, position in the low half, so ties go to the leftmost
/// pair) for BPE on long pieces. Four children per node halve the depth of a binary heap, which matters when a
/// 10 MB piece puts millions of keys in it.
/// </summary>
internal sealed class MergeQueue
{
    private long[] _keys;
    private int _count;

    /// <summary>Takes <paramref name="keys"/> (first <paramref name="count"/> used) and heapifies them in O(n).</summary>
    public MergeQueue(long[] keys, int count)
    {
        _keys = keys;
        _count = count;
        for (int i = (count - 2) / 4; i >= 0; i--)
            SiftDown(i, _keys[i]);
    }

    /// <summary>Pops plus the heap levels pushes and pops moved through: the queue's work so far.</summary>
    public long Steps { get; private set; }

    public void Push(long key)
    {
        if (_count == _keys.Length)
            Array.Resize(ref _keys, Math.Max(16, _keys.Length * 2));
        int i = _count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 2;
            if (_keys[parent] <= key)
                break;
            Steps++;
            _keys[i] = _keys[parent];
            i = parent;
        }
        _keys[i] = key;
    }

    public bool TryPop(out long key)
    {
        if (_count == 0)
        {
            key = 0;
            return false;
        }
        key = _keys[0];
        Steps++;
        long last = _keys[--_count];
        if (_count > 0)
            SiftDown(0, last);
        return true;
    }

    private void SiftDown(int i, long key)
    {
        while (true)
        {
            int first = (i << 2) + 1;
            if (first >= _count)
                break;
            int best = first;
            int end = Math.Min(first + 4, _count);
            for (int c = first + 1; c < end; c++)
            {
                if (_keys[c] < _keys[best])
                    best = c;
            }
            if (_keys[best] >= key)
                break;
            Steps++;
            _keys[i] = _keys[best];
            i = best;
        }
        _keys[i] = key;
    }
}
