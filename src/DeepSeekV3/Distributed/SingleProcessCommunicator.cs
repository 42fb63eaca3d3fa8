namespace DeepSeekV3.Distributed;

/// <summary>
/// The group of one: what <c>dsv3 train</c> without mpiexec runs on. Reductions leave the buffer as it is, gathers
/// and all-to-alls copy send to receive; point-to-point messages go to self through a queue (tag-matched).
/// </summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    private readonly Dictionary<int, Queue<byte[]>> _mailbox = [];

    public int Rank => 0;
    public int Size => 1;
    public string Description => "single process";

    public ICommunicator Split(int color, int key) => new SingleProcessCommunicator();
    public void Barrier() { }
    public void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum) where T : unmanaged { }
    public void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged => CheckRank(root);

    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged => Copy(send, receive);

    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts) where T : unmanaged
    {
        CheckCounts(counts, send.Length);
        Copy(send, receive);
    }

    public void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged
    {
        CheckCounts(counts, send.Length);
        Copy(send, receive);
    }

    public void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged => Copy(send, receive);

    public void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts)
        where T : unmanaged
    {
        CheckCounts(sendCounts, send.Length);
        if (receiveCounts.Length != 1 || receiveCounts[0] != sendCounts[0])
            throw new ArgumentException($"one rank: receive count {string.Join(",", receiveCounts.ToArray())} must equal send count {sendCounts[0]}");
        Copy(send, receive);
    }

    public void Send<T>(ReadOnlySpan<T> data, int destination, int tag = 0) where T : unmanaged
    {
        CheckRank(destination);
        if (!_mailbox.TryGetValue(tag, out var queue)) _mailbox[tag] = queue = new Queue<byte[]>();
        queue.Enqueue(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data).ToArray());
    }

    public void Receive<T>(Span<T> data, int source, int tag = 0) where T : unmanaged
    {
        CheckRank(source);
        if (!_mailbox.TryGetValue(tag, out var queue) || queue.Count == 0)
            throw new InvalidOperationException($"receive from self with tag {tag}: nothing was sent (it would wait forever)");
        var bytes = queue.Dequeue();
        var target = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data);
        if (bytes.Length > target.Length)
            throw new ArgumentException($"message of {bytes.Length} bytes does not fit the {target.Length}-byte buffer");
        bytes.CopyTo(target);
    }

    public ICommRequest AllReduceAsync<T>(NativeBuffer<T> buffer, ReduceOp op = ReduceOp.Sum) where T : unmanaged => Done.Instance;

    public ICommRequest AllGatherVAsync<T>(NativeBuffer<T> send, NativeBuffer<T> receive, int[] counts) where T : unmanaged
    {
        AllGatherV<T>(send.AsSpan(), receive.AsSpan(), counts);
        return Done.Instance;
    }

    public ICommRequest ReduceScatterAsync<T>(NativeBuffer<T> send, NativeBuffer<T> receive, int[] counts, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged
    {
        ReduceScatter<T>(send.AsSpan(), receive.AsSpan(), counts, op);
        return Done.Instance;
    }

    public ICommRequest AllToAllVAsync<T>(NativeBuffer<T> send, int[] sendCounts, NativeBuffer<T> receive, int[] receiveCounts)
        where T : unmanaged
    {
        AllToAllV<T>(send.AsSpan(), sendCounts, receive.AsSpan(), receiveCounts);
        return Done.Instance;
    }

    public ICommRequest SendAsync<T>(NativeBuffer<T> data, int destination, int tag = 0) where T : unmanaged
    {
        Send<T>(data.AsSpan(), destination, tag);
        return Done.Instance;
    }

    public ICommRequest ReceiveAsync<T>(NativeBuffer<T> data, int source, int tag = 0) where T : unmanaged
    {
        Receive(data.AsSpan(), source, tag);
        return Done.Instance;
    }

    public void Abort(int exitCode) => Environment.Exit(exitCode);

    public void Dispose() { }

    private static void Copy<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (receive.Length < send.Length)
            throw new ArgumentException($"receive buffer of {receive.Length} elements is smaller than the {send.Length} sent");
        send.CopyTo(receive);
    }

    private static void CheckRank(int rank)
    {
        if (rank != 0) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} in a group of one");
    }

    private static void CheckCounts(ReadOnlySpan<int> counts, int length)
    {
        if (counts.Length != 1 || counts[0] != length)
            throw new ArgumentException($"one rank: counts [{string.Join(",", counts.ToArray())}] must be [{length}]");
    }

    private sealed class Done : ICommRequest
    {
        public static readonly Done Instance = new();
        public bool Test() => true;
        public void Wait() { }
        public void Dispose() { }
    }
}
