using System.Runtime.InteropServices;

namespace DeepSeekV3.Distributed.Mpi;

/// <summary>
/// One or more MPI requests in flight (a chunked all-reduce is several), with the native memory MPI reads until they
/// complete: the request slots themselves and the count/displacement arrays of the v-collectives. MPI keeps the
/// addresses it was given, so none of this may live in the managed heap, which moves; everything is allocated here
/// and freed exactly once, when the last request has completed.
/// </summary>
internal sealed unsafe class MpiRequest : ICommRequest
{
    private readonly MpiApi _api;
    private readonly string _call;
    private readonly List<nint> _owned = [];
    private nint* _slots;
    private int _count;
    private bool _completed;

    public MpiRequest(MpiApi api, string call, int requests)
    {
        _api = api;
        _call = call;
        _slots = (nint*)NativeMemory.AllocZeroed((nuint)requests, (nuint)sizeof(nint));
        _count = requests;
    }

    /// <summary>The slot MPI writes the i-th request handle into.</summary>
    public nint* Slot(int i) => _slots + i;

    /// <summary>A native copy of <paramref name="values"/> that lives until the request completes.</summary>
    public int* Pin(ReadOnlySpan<int> values)
    {
        int* p = (int*)NativeMemory.Alloc((nuint)Math.Max(1, values.Length), sizeof(int));
        _owned.Add((nint)p);
        values.CopyTo(new Span<int>(p, values.Length));
        return p;
    }

    /// <summary>Native memory of <paramref name="bytes"/> bytes that lives until the request completes.</summary>
    public void* Allocate(long bytes)
    {
        void* p = NativeMemory.Alloc((nuint)Math.Max(1, bytes));
        _owned.Add((nint)p);
        return p;
    }

    /// <summary>Fewer requests than reserved were started (a start failed): wait only for those.</summary>
    public void Truncate(int started) => _count = started;

    public bool Test()
    {
        if (_completed) return true;
        bool all = true;
        for (int i = 0; i < _count; i++)
        {
            int flag = 0;
            _api.Check(_api.Test(_slots + i, &flag, _api.StatusIgnore), $"MPI_Test ({_call})");
            all &= flag != 0;
        }
        if (all) Release();
        return all;
    }

    public void Wait()
    {
        if (_completed) return;
        for (int i = 0; i < _count; i++)
            _api.Check(_api.Wait(_slots + i, _api.StatusIgnore), $"MPI_Wait ({_call})");
        Release();
    }

    /// <summary>Cancels a send nobody will receive (a message to self left unread), then waits for it.</summary>
    public void Cancel()
    {
        if (_completed) return;
        for (int i = 0; i < _count; i++)
            _api.Check(_api.Cancel(_slots + i), $"MPI_Cancel ({_call})");
        Wait();
    }

    /// <summary>Waits if still pending: the buffers must not be reused or freed while MPI may touch them.</summary>
    public void Dispose() => Wait();

    private void Release()
    {
        _completed = true;
        foreach (nint p in _owned) NativeMemory.Free((void*)p);
        _owned.Clear();
        NativeMemory.Free(_slots);
        _slots = null;
        _count = 0;
    }
}
