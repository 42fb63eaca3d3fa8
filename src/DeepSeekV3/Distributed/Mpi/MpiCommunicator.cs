using System.Runtime.InteropServices;
using static DeepSeekV3.Distributed.Mpi.CollectiveShapes;

namespace DeepSeekV3.Distributed.Mpi;

/// <summary>
/// <see cref="ICommunicator"/> over an MPI communicator (MPICH or Open MPI, see <see cref="MpiApi"/>). The world is
/// made once per process by <see cref="InitializeWorld"/> and finalizes MPI when disposed; <see cref="Split"/>
/// groups free their communicator. Every MPI return code is checked (the world's error handler is set to
/// MPI_ERRORS_RETURN, which split groups inherit) and a failure throws <see cref="MpiException"/> naming the call.
/// Element types: float, double, int, long, byte, ushort (bf16 bits: moved, never reduced) and Half (MPICH's
/// MPIX_C_FLOAT16: moved, never reduced, since MPICH 4.0.2 aborts on float16 reductions). MPI calls must come from one thread at a time (MPI_THREAD_SERIALIZED).
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private const int ThreadSerialized = 2;

    /// <summary>Largest element count per MPI call: counts are C ints, so longer all-reduces go in chunks.</summary>
    private const int MaxCount = int.MaxValue;

    private readonly MpiApi _api;
    private readonly bool _isWorld;
    private readonly List<MpiRequest> _selfSends = [];
    private nint _comm;
    private bool _disposed;

    private MpiCommunicator(MpiApi api, nint comm, bool isWorld, string description)
    {
        _api = api;
        _comm = comm;
        _isWorld = isWorld;
        int rank, size;
        api.Check(api.Comm_rank(comm, &rank), "MPI_Comm_rank");
        api.Check(api.Comm_size(comm, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        Description = description;
    }

    /// <summary>Loads <paramref name="choice"/>'s library, initializes MPI (once per process) and returns the world.</summary>
    public static MpiCommunicator InitializeWorld(MpiLibraryChoice choice)
    {
        var api = new MpiApi(choice);
        int initialized = 0, provided = 0;
        api.Check(api.Initialized(&initialized), "MPI_Initialized");
        if (initialized != 0)
            throw new MpiException("MPI_Init_thread", "MPI is already initialized in this process: create the world communicator once and pass it on");
        api.Check(api.Init_thread(null, 0, ThreadSerialized, &provided), "MPI_Init_thread");
        // FUNNELED would do for one thread, but .NET may resume a caller on another thread after an await.
        if (provided < ThreadSerialized)
            throw new MpiException("MPI_Init_thread", $"{choice.Library} provides thread level {provided}; MPI_THREAD_SERIALIZED ({ThreadSerialized}) is needed");
        api.Check(api.Comm_set_errhandler(api.CommWorld, api.ErrorsReturn), "MPI_Comm_set_errhandler");
        return new MpiCommunicator(api, api.CommWorld, isWorld: true, api.LibraryVersion());
    }

    public int Rank { get; }
    public int Size { get; }
    public string Description { get; }

    public ICommunicator Split(int color, int key)
    {
        if (color < 0) throw new ArgumentOutOfRangeException(nameof(color), $"MPI_Comm_split: color {color} must be non-negative");
        nint slot = 0;
        _api.Check(_api.Comm_split(Comm, color, key, &slot), "MPI_Comm_split");
        return new MpiCommunicator(_api, _api.ReadHandle(&slot), isWorld: false, Description);
    }

    public void Barrier() => _api.Check(_api.Barrier(Comm), "MPI_Barrier");

    public void AllReduce<T>(Span<T> buffer, ReduceOp op = ReduceOp.Sum) where T : unmanaged
    {
        nint type = Datatype<T>("MPI_Allreduce"), mpiOp = Op<T>(op, "MPI_Allreduce");
        fixed (T* p = buffer)
            for (long start = 0; start < buffer.Length; start += MaxCount)
                _api.Check(_api.Allreduce((void*)_api.InPlace, p + start, (int)Math.Min(MaxCount, buffer.Length - start), type, mpiOp, Comm), "MPI_Allreduce");
    }

    public void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged
    {
        CollectiveShapes.Rank(root, Size, "MPI_Bcast");
        nint type = Datatype<T>("MPI_Bcast");
        fixed (T* p = buffer)
            _api.Check(_api.Bcast(p, buffer.Length, type, root, Comm), "MPI_Bcast");
    }

    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        Exactly(receive.Length, (long)send.Length * Size, "MPI_Allgather", "receive");
        nint type = Datatype<T>("MPI_Allgather");
        fixed (T* s = send, r = receive)
            _api.Check(_api.Allgather(s, send.Length, type, r, send.Length, type, Comm), "MPI_Allgather");
    }

    public void AllGatherV<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts) where T : unmanaged
    {
        var (displacements, total) = Displacements(counts, Size, "MPI_Allgatherv", "counts");
        Exactly(send.Length, counts[Rank], "MPI_Allgatherv", "send");
        AtLeast(receive.Length, total, "MPI_Allgatherv", "receive");
        nint type = Datatype<T>("MPI_Allgatherv");
        fixed (T* s = send, r = receive)
        fixed (int* c = counts, d = displacements)
            _api.Check(_api.Allgatherv(s, send.Length, type, r, c, d, type, Comm), "MPI_Allgatherv");
    }

    public void ReduceScatter<T>(ReadOnlySpan<T> send, Span<T> receive, ReadOnlySpan<int> counts, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged
    {
        var (_, total) = Displacements(counts, Size, "MPI_Reduce_scatter", "counts");
        Exactly(send.Length, total, "MPI_Reduce_scatter", "send");
        AtLeast(receive.Length, counts[Rank], "MPI_Reduce_scatter", "receive");
        nint type = Datatype<T>("MPI_Reduce_scatter"), mpiOp = Op<T>(op, "MPI_Reduce_scatter");
        fixed (T* s = send, r = receive)
        fixed (int* c = counts)
            _api.Check(_api.Reduce_scatter(s, r, c, type, mpiOp, Comm), "MPI_Reduce_scatter");
    }

    public void AllToAll<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (send.Length % Size != 0)
            throw new ArgumentException($"MPI_Alltoall: {send.Length} elements do not split into {Size} equal blocks");
        Exactly(receive.Length, send.Length, "MPI_Alltoall", "receive");
        nint type = Datatype<T>("MPI_Alltoall");
        int block = send.Length / Size;
        fixed (T* s = send, r = receive)
            _api.Check(_api.Alltoall(s, block, type, r, block, type, Comm), "MPI_Alltoall");
    }

    public void AllToAllV<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> receive, ReadOnlySpan<int> receiveCounts)
        where T : unmanaged
    {
        var (sendDisplacements, receiveDisplacements) = AllToAllVDisplacements(sendCounts, send.Length, receiveCounts, receive.Length, Size, "MPI_Alltoallv");
        nint type = Datatype<T>("MPI_Alltoallv");
        fixed (T* s = send, r = receive)
        fixed (int* sc = sendCounts, sd = sendDisplacements, rc = receiveCounts, rd = receiveDisplacements)
            _api.Check(_api.Alltoallv(s, sc, sd, type, r, rc, rd, type, Comm), "MPI_Alltoallv");
    }

    /// <summary>Standard-mode send: it may wait for the matching receive, so two ranks sending to each other first
    /// can deadlock on large messages (order them, or use <see cref="SendAsync{T}"/>). A send to self is buffered (a
    /// copy goes out with MPI_Isend) because a blocking MPI_Send to self never returns under MPICH once the message
    /// is past the eager limit.</summary>
    public void Send<T>(ReadOnlySpan<T> data, int destination, int tag = 0) where T : unmanaged
    {
        CollectiveShapes.Rank(destination, Size, "MPI_Send");
        nint type = Datatype<T>("MPI_Send");
        if (destination == Rank)
        {
            var request = new MpiRequest(_api, "MPI_Isend to self", 1);
            int count = data.Length;
            void* copy = request.Allocate((long)count * sizeof(T));
            data.CopyTo(new Span<T>(copy, count));
            Start(request, () => _api.Isend(copy, count, type, destination, tag, Comm, request.Slot(0)), "MPI_Isend");
            _selfSends.Add(request);
            return;
        }
        fixed (T* p = data)
            _api.Check(_api.Send(p, data.Length, type, destination, tag, Comm), "MPI_Send");
    }

    public void Receive<T>(Span<T> data, int source, int tag = 0) where T : unmanaged
    {
        CollectiveShapes.Rank(source, Size, "MPI_Recv");
        nint type = Datatype<T>("MPI_Recv");
        fixed (T* p = data)
            _api.Check(_api.Recv(p, data.Length, type, source, tag, Comm, _api.StatusIgnore), "MPI_Recv");
        if (source == Rank) _selfSends.RemoveAll(r => r.Test());
    }

    public ICommRequest AllReduceAsync<T>(NativeBuffer<T> buffer, ReduceOp op = ReduceOp.Sum) where T : unmanaged
    {
        nint type = Datatype<T>("MPI_Iallreduce"), mpiOp = Op<T>(op, "MPI_Iallreduce");
        int chunks = (int)((buffer.Length + MaxCount - 1) / MaxCount);
        var request = new MpiRequest(_api, "MPI_Iallreduce", chunks);
        for (int i = 0; i < chunks; i++)
        {
            var chunk = buffer.Slice((long)i * MaxCount, Math.Min(MaxCount, buffer.Length - (long)i * MaxCount));
            int started = i;
            Start(request, () => _api.Iallreduce((void*)_api.InPlace, (void*)chunk.Address, (int)chunk.Length, type, mpiOp, Comm, request.Slot(started)),
                "MPI_Iallreduce", started);
        }
        return request;
    }

    public ICommRequest AllGatherVAsync<T>(NativeBuffer<T> send, NativeBuffer<T> receive, int[] counts) where T : unmanaged
    {
        var (displacements, total) = Displacements(counts, Size, "MPI_Iallgatherv", "counts");
        Exactly(send.Length, counts[Rank], "MPI_Iallgatherv", "send");
        AtLeast(receive.Length, total, "MPI_Iallgatherv", "receive");
        nint type = Datatype<T>("MPI_Iallgatherv");
        var request = new MpiRequest(_api, "MPI_Iallgatherv", 1);
        int* c = request.Pin(counts), d = request.Pin(displacements);
        Start(request, () => _api.Iallgatherv((void*)send.Address, (int)send.Length, type, (void*)receive.Address, c, d, type, Comm, request.Slot(0)),
            "MPI_Iallgatherv");
        return request;
    }

    public ICommRequest ReduceScatterAsync<T>(NativeBuffer<T> send, NativeBuffer<T> receive, int[] counts, ReduceOp op = ReduceOp.Sum)
        where T : unmanaged
    {
        var (_, total) = Displacements(counts, Size, "MPI_Ireduce_scatter", "counts");
        Exactly(send.Length, total, "MPI_Ireduce_scatter", "send");
        AtLeast(receive.Length, counts[Rank], "MPI_Ireduce_scatter", "receive");
        nint type = Datatype<T>("MPI_Ireduce_scatter"), mpiOp = Op<T>(op, "MPI_Ireduce_scatter");
        var request = new MpiRequest(_api, "MPI_Ireduce_scatter", 1);
        int* c = request.Pin(counts);
        Start(request, () => _api.Ireduce_scatter((void*)send.Address, (void*)receive.Address, c, type, mpiOp, Comm, request.Slot(0)),
            "MPI_Ireduce_scatter");
        return request;
    }

    public ICommRequest AllToAllVAsync<T>(NativeBuffer<T> send, int[] sendCounts, NativeBuffer<T> receive, int[] receiveCounts)
        where T : unmanaged
    {
        var (sendDisplacements, receiveDisplacements) = AllToAllVDisplacements(sendCounts, send.Length, receiveCounts, receive.Length, Size, "MPI_Ialltoallv");
        nint type = Datatype<T>("MPI_Ialltoallv");
        var request = new MpiRequest(_api, "MPI_Ialltoallv", 1);
        int* sc = request.Pin(sendCounts), sd = request.Pin(sendDisplacements);
        int* rc = request.Pin(receiveCounts), rd = request.Pin(receiveDisplacements);
        Start(request, () => _api.Ialltoallv((void*)send.Address, sc, sd, type, (void*)receive.Address, rc, rd, type, Comm, request.Slot(0)),
            "MPI_Ialltoallv");
        return request;
    }

    public ICommRequest SendAsync<T>(NativeBuffer<T> data, int destination, int tag = 0) where T : unmanaged =>
        PointToPoint(data, destination, tag, _api.Isend, "MPI_Isend");

    public ICommRequest ReceiveAsync<T>(NativeBuffer<T> data, int source, int tag = 0) where T : unmanaged =>
        PointToPoint(data, source, tag, _api.Irecv, "MPI_Irecv");

    /// <summary>MPI_Isend or MPI_Irecv, which take the same arguments.</summary>
    private MpiRequest PointToPoint<T>(NativeBuffer<T> data, int peer, int tag,
        delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> start, string call) where T : unmanaged
    {
        CollectiveShapes.Rank(peer, Size, call);
        nint type = Datatype<T>(call);
        int count = Count(data.Length, call);
        var request = new MpiRequest(_api, call, 1);
        int code = start((void*)data.Address, count, type, peer, tag, Comm, request.Slot(0));
        if (code != MpiApi.Success) request.Truncate(0);
        _api.Check(code, call);
        return request;
    }

    public void Abort(int exitCode)
    {
        _api.Abort(_api.CommWorld, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this is only reached if the library misbehaves
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // A message to self nobody received: cancel it so its copy can be freed.
        foreach (var send in _selfSends) send.Cancel();
        _selfSends.Clear();
        int finalized = 0;
        _api.Check(_api.Finalized(&finalized), "MPI_Finalized");
        if (finalized != 0) return; // the world went first; its communicators died with it
        if (_isWorld)
            _api.Check(_api.Finalize(), "MPI_Finalize");
        else
        {
            nint comm = _comm;
            _api.Check(_api.Comm_free(&comm), "MPI_Comm_free");
        }
        _comm = 0;
    }

    private nint Comm => _disposed ? throw new ObjectDisposedException(nameof(MpiCommunicator)) : _comm;

    /// <summary>Starts the request's <paramref name="started"/>-th operation; if MPI refuses it, waits for the ones
    /// already started (their memory is freed with the request) and throws.</summary>
    private void Start(MpiRequest request, Func<int> start, string call, int started = 0)
    {
        int code = start();
        if (code == MpiApi.Success) return;
        request.Truncate(started);
        request.Wait();
        _api.Check(code, call);
    }

    private nint Datatype<T>(string call) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return _api.Float;
        if (typeof(T) == typeof(double)) return _api.Double;
        if (typeof(T) == typeof(int)) return _api.Int;
        if (typeof(T) == typeof(long)) return _api.Int64;
        if (typeof(T) == typeof(byte)) return _api.Byte;
        if (typeof(T) == typeof(ushort)) return _api.UInt16;
        if (typeof(T) == typeof(Half))
            return _api.Float16 != 0 ? _api.Float16
                : throw new MpiException(call, $"{Description} has no half-precision datatype; send float32 (or the bits as ushort)");
        throw new MpiException(call, $"no MPI datatype for {typeof(T).Name}: use float, double, int, long, byte, ushort or Half");
    }

    private nint Op<T>(ReduceOp op, string call) where T : unmanaged
    {
        if (typeof(T) == typeof(ushort))
            throw new MpiException(call, "ushort buffers hold bf16 bits: adding or comparing them as integers is not a bf16 reduction; reduce in float32");
        if (typeof(T) == typeof(byte))
            throw new MpiException(call, "byte buffers are raw bytes (MPI_BYTE), which MPI does not reduce");
        if (typeof(T) == typeof(Half))
            throw new MpiException(call, "MPICH 4.0.2 aborts on reductions of MPIX_C_FLOAT16 (yaksa pack assertion); reduce in float32");
        return op switch
        {
            ReduceOp.Sum => _api.Sum,
            ReduceOp.Max => _api.Max,
            ReduceOp.Min => _api.Min,
            _ => throw new ArgumentOutOfRangeException(nameof(op), $"{call}: unknown reduction {op}"),
        };
    }
}
