using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace DeepSeekV3.Kernels;

/// <summary>
/// A fork-join team for the decode kernels: the calling thread plus <c>size − 1</c> persistent workers that spin
/// briefly between jobs and then sleep. A decode step runs a few hundred small parallel sections (one per weight
/// matrix); waking pool threads for each (Parallel.For) costs more than the work, spinning workers do not. Each
/// member's share of a job is claimed once, by its worker or, when that worker has not claimed it within 20 µs of the
/// caller finishing its own share, by the caller: on a machine with more runnable threads than cores a descheduled worker
/// then costs the step its share's time, not a scheduler time slice per section (measured: a 51M FP8 model decoded
/// at 243 ms/step on 2 threads beside two busy processes, 1.8 ms on 1). One owner: <see cref="Run"/> is not
/// re-entrant and must not be called from two threads at once.
/// </summary>
public sealed class WorkerTeam : IDisposable
{
    private const int SpinCount = 2047;     // ManualResetEventSlim's maximum
    /// <summary>How long the caller waits for a worker to claim its share before taking it: 20 µs, well above a
    /// spinning or just-woken worker's reaction and far below a scheduler time slice (milliseconds).</summary>
    private static readonly long GraceTicks = Stopwatch.Frequency / 50_000;
    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _start;
    private readonly long[] _claimed;       // per member: the last generation whose share was claimed
    private long _generation;
    private int _inFlight;                  // workers between announcing a claim and finishing its share
    private Action<int>? _job;
    private volatile bool _stopping;
    private Exception? _failure;

    public WorkerTeam(int size)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"a team needs at least one member, not {size}");
        Size = size;
        _claimed = new long[size];
        _start = Enumerable.Range(1, size - 1).Select(_ => new ManualResetEventSlim(false, SpinCount)).ToArray();
        _workers = Enumerable.Range(1, size - 1).Select(member => new Thread(() => Work(member))
        {
            IsBackground = true,
            Name = $"dsv3 decode worker {member}",
        }).ToArray();
        foreach (var worker in _workers) worker.Start();
    }

    /// <summary>Members, the calling thread included.</summary>
    public int Size { get; }

    /// <summary>Runs job(member) once for every member (0 on the caller; the others on their workers, or on the
    /// caller when their worker is late) and returns when all have finished; a member's exception is rethrown here.</summary>
    public void Run(Action<int> job)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (Size == 1)
        {
            job(0);
            return;
        }
        _failure = null;
        Volatile.Write(ref _job, job);
        long generation = Interlocked.Increment(ref _generation);    // publishes the job
        foreach (var start in _start) start.Set();
        ExceptionDispatchInfo? own = null;
        try
        {
            job(0);
        }
        catch (Exception e)
        {
            own = ExceptionDispatchInfo.Capture(e);
        }
        // Every share is claimed before Run returns (run here unless the caller's own failed), so no worker can
        // start this generation's job later.
        for (int member = 1; member < Size; member++)
            if (AwaitClaim(member, generation) && own is null)
            {
                try
                {
                    job(member);
                }
                catch (Exception e)
                {
                    _failure = e;
                }
            }
        // Yields, never sleeps: a millisecond's sleep per section would cost more than the sections do.
        var wait = new SpinWait();
        while (Volatile.Read(ref _inFlight) != 0) wait.SpinOnce(sleep1Threshold: -1);
        _job = null;
        own?.Throw();
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

    /// <summary>
    /// For the caller after its own share: gives member's worker <see cref="GraceTicks"/> to claim its share (a
    /// spinning worker claims within a microsecond of the start signal), then claims it itself. True if the caller
    /// now owns the share.
    /// </summary>
    private bool AwaitClaim(int member, long generation)
    {
        long deadline = 0;
        var wait = new SpinWait();
        while (Volatile.Read(ref _claimed[member]) < generation)
        {
            long now = Stopwatch.GetTimestamp();
            if (deadline == 0) deadline = now + GraceTicks;
            else if (now >= deadline) break;
            wait.SpinOnce(sleep1Threshold: -1);
        }
        return TryClaim(member, generation);
    }

    /// <summary>True for the one thread that takes member's share of <paramref name="generation"/>.</summary>
    private bool TryClaim(int member, long generation)
    {
        long seen = Volatile.Read(ref _claimed[member]);
        return seen < generation && Interlocked.CompareExchange(ref _claimed[member], generation, seen) == seen;
    }

    private void Work(int member)
    {
        var start = _start[member - 1];
        while (true)
        {
            start.Wait();
            start.Reset();          // before reading the generation, so that a later Set is not lost
            if (_stopping) return;
            // Announced before claiming: the caller, once every share is claimed, waits for this count to drain.
            Interlocked.Increment(ref _inFlight);
            try
            {
                long generation = Volatile.Read(ref _generation);
                var job = Volatile.Read(ref _job);
                // A job read after a newer generation began belongs to that generation, and a stale generation's
                // shares are all claimed by the time the caller moves on, so a claim never pairs the wrong job.
                if (job is not null && TryClaim(member, generation))
                    job(member);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
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
    }
}
