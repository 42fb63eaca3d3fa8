namespace DeepSeekV3.Distributed;

/// <summary>
/// A group of processes that exchange tensors: MPI's communicator, reduced to what training and inference use.
/// Every collective must be called by all ranks of the group in the same order. Buffers are the caller's memory;
/// blocking calls take spans (a tensor's <c>bytes</c> reinterpreted, so nothing is copied), non-blocking calls take
/// <see cref="NativeBuffer{T}"/>s over memory that does not move (tensor storage) and must stay alive until the
/// request completes. Counts and displacements are in elements of T.
/// Implementations: <see cref="SingleProcessCommunicator"/> (size 1) and <c>MpiCommunicator</c>.
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int Size { get; }

    /// <summary>What carries the messages, for logs: "single process", "MPICH 4.0.2", ...</summary>
    string Description { get; }

    /// <summary>MPI_Comm_split: ranks with the same <paramref name="color"/> form a new group, ordered by
    /// <paramref name="key"/> (then by rank). The caller owns (disposes) the result.</summary>
    ICommunicator Split(int color, int key);

    void Barrier();

    /// <summary>In place: every rank ends with the element-wise reduction of all ranks' buffers.</summary>
    void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum) where T : unmanaged;

    void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged;

    /// <summary><paramref name="receive"/> = rank 0's send, then rank 1's, ...; length Size × send.Length.</summary>
    void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged;

    /// <summary>Rank r contributes counts[r] elements; <paramref name="receive"/> holds them in rank order.</summary>
    void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts) where T : unmanaged;

    /// <summary>Reduces <paramref name="send"/> (length Σ counts) over all ranks; rank r receives the counts[r]
    /// elements of its block.</summary>
    void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged;

    /// <summary>Equal blocks: block r of <paramref name="send"/> goes to rank r, block s of
    /// <paramref name="receive"/> comes from rank s.</summary>
    void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged;

    /// <summary>Variable blocks, packed in rank order (displacements are the running sums of the counts).</summary>
    void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts)
        where T : unmanaged;

    void Send<T>(ReadOnlySpan<T> data, int destination, int tag = 0) where T : unmanaged;
    void Receive<T>(Span<T> data, int source, int tag = 0) where T : unmanaged;

    // Non-blocking variants: they return at once; the buffers belong to the request until it completes.
    ICommRequest AllReduceAsync<T>(NativeBuffer<T> buffer, ReduceOp op = ReduceOp.Sum) where T : unmanaged;
    ICommRequest AllGatherVAsync<T>(NativeBuffer<T> send, NativeBuffer<T> receive, int[] counts) where T : unmanaged;
    ICommRequest ReduceScatterAsync<T>(NativeBuffer<T> send, NativeBuffer<T> receive, int[] counts, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged;
    ICommRequest AllToAllVAsync<T>(NativeBuffer<T> send, int[] sendCounts, NativeBuffer<T> receive, int[] receiveCounts)
        where T : unmanaged;
    ICommRequest SendAsync<T>(NativeBuffer<T> data, int destination, int tag = 0) where T : unmanaged;
    ICommRequest ReceiveAsync<T>(NativeBuffer<T> data, int source, int tag = 0) where T : unmanaged;

    /// <summary>Ends every process of the job (MPI_Abort on the world) with <paramref name="exitCode"/>; does not
    /// return. A single process exits.</summary>
    void Abort(int exitCode);
}

public enum ReduceOp
{
    Sum,
    Max,
    Min,
}

/// <summary>A non-blocking operation in flight. Wait blocks until it completes (and drives MPI's progress);
/// Test polls. Dispose waits if still pending.</summary>
public interface ICommRequest : IDisposable
{
    bool Test();
    void Wait();
}
