namespace DeepSeekV3.Kernels;

/// <summary>
/// A fork-join team for the decode kernels: the calling thread plus <c>size − 1</c> persistent workers that spin
/// briefly between jobs and then sleep. A decode step runs a few hundred small parallel sections (one per weight
/// matrix); waking pool threads for each (Parallel.For) costs more than the work, spinning workers do not. One owner:
/// <see cref="Run"/> is not re-entrant and must not be called from two threads at once.
/// </summary>
public sealed class WorkerTeam : IDisposable
{
    private const int SpinCount = 2047;     // ManualResetEventSlim's maximum
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _start;
    private readonly CountdownEvent _done;
    private Action<int>? _job;
    private volatile bool _stopping;
    private Exception? _failure;

    public WorkerTeam(int size)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"a team needs at least one member, not {size}");
        Size = size;
        _start = Enumerable.Range(1, size - 1).Select(_ => new ManualResetEventSlim(false, SpinCount)).ToArray();
        _done = new CountdownEvent(size - 1);
        _workers = Enumerable.Range(1, size - 1).Select(member => new Thread(() => Work(member))
        {
            IsBackground = true,
            Name = $"dsv3 decode worker {member}",
        }).ToArray();
        foreach (var worker in _workers) worker.Start();
    }

    /// <summary>Members, the calling thread included.</summary>
    public int Size { get; }

    /// <summary>Runs job(member) on every member (0 = the caller) and returns when all have finished; a member's
    /// exception is rethrown here.</summary>
    public void Run(Action<int> job)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (Size == 1)
        {
            job(0);
            return;
        }
        _job = job;
        _failure = null;
        _done.Reset(Size - 1);
        foreach (var start in _start) start.Set();
        try
        {
            job(0);
        }
        finally
        {
            _done.Wait();
            _job = null;
        }
        if (_failure is { } failure)
            throw new AggregateException("a decode worker failed", failure);
    }

    /// <summary>[first, last) of member's share of <paramref name="count"/> items, in multiples of <paramref name="align"/>.</summary>
    public (int First, int Last) Share(int member, int count, int align = 1)
    {
        int per = (count / Size + align - 1) / align * align;
        int first = Math.Min(count, member * per);
        return (first, member == Size - 1 ? count : Math.Min(count, first + per));
    }

    private void Work(int member)
    {
        var start = _start[member - 1];
        while (true)
        {
            start.Wait();
            start.Reset();
            if (_stopping) return;
            try
            {
                _job!(member);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            finally
            {
                _done.Signal();
            }
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        foreach (var start in _start) start.Set();
        foreach (var worker in _workers) worker.Join();
        foreach (var start in _start) start.Dispose();
        _done.Dispose();
    }
}
