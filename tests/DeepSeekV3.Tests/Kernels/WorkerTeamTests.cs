using DeepSeekV3.Kernels;

namespace DeepSeekV3.Tests.Kernels;

public class WorkerTeamTests
{
    [Fact]
    public void Every_member_runs_each_job_once_and_run_waits_for_all()
    {
        using var team = new WorkerTeam(3);
        for (int round = 0; round < 200; round++)
        {
            var counts = new int[3];
            var threads = new int[3];
            team.Run(member =>
            {
                if (member == 2) Thread.SpinWait(2000);         // a slow member: Run must still wait for it
                Interlocked.Increment(ref counts[member]);
                threads[member] = Environment.CurrentManagedThreadId;
            });
            Assert.Equal(new[] { 1, 1, 1 }, counts);
            Assert.Equal(Environment.CurrentManagedThreadId, threads[0]);
        }
    }

    [Fact]
    public void With_more_members_than_cores_the_caller_takes_late_workers_shares_and_each_runs_once()
    {
        // 16 members on this machine's 2 cores, with two more threads spinning beside them: workers are often
        // descheduled for a whole time slice when the caller finishes its own share, so it takes theirs (without the
        // spinners a quiet machine sometimes let every worker claim in time over all 300 rounds); whoever runs a
        // share, each runs exactly once per Run, and never after it.
        using var team = new WorkerTeam(16);
        int caller = Environment.CurrentManagedThreadId, takenByCaller = 0, late = 0;
        bool running = false, spin = true;
        var spinners = Enumerable.Range(0, 2).Select(_ => new Thread(() => { while (Volatile.Read(ref spin)) Thread.SpinWait(100); })
            { IsBackground = true }).ToList();
        spinners.ForEach(t => t.Start());
        try
        {
            for (int round = 0; round < 300; round++)
            {
                var counts = new int[16];
                Volatile.Write(ref running, true);
                team.Run(member =>
                {
                    if (!Volatile.Read(ref running)) Interlocked.Increment(ref late);
                    Interlocked.Increment(ref counts[member]);
                    if (member > 0 && Environment.CurrentManagedThreadId == caller) Interlocked.Increment(ref takenByCaller);
                });
                Volatile.Write(ref running, false);
                Assert.All(counts, c => Assert.Equal(1, c));
            }
        }
        finally
        {
            Volatile.Write(ref spin, false);
            spinners.ForEach(t => t.Join());
        }
        Thread.Sleep(50);                                        // a share run after its Run returned would show here
        Assert.Equal(0, late);
        Assert.True(takenByCaller > 0, "the caller never took a late worker's share");
    }

    [Fact]
    public void A_workers_exception_reaches_the_caller_and_the_team_keeps_working()
    {
        using var team = new WorkerTeam(2);
        var error = Assert.Throws<AggregateException>(() => team.Run(member =>
        {
            if (member == 1) throw new InvalidOperationException("boom");
        }));
        Assert.IsType<InvalidOperationException>(error.InnerException);
        int ran = 0;
        team.Run(_ => Interlocked.Increment(ref ran));
        Assert.Equal(2, ran);
    }

    [Theory]
    [InlineData(1, 10, 1)]
    [InlineData(2, 10, 4)]
    [InlineData(3, 100, 4)]
    [InlineData(2, 3, 4)]        // fewer items than one aligned share
    public void Shares_cover_every_item_once_in_aligned_pieces(int size, int count, int align)
    {
        using var team = new WorkerTeam(size);
        var covered = new int[count];
        for (int member = 0; member < size; member++)
        {
            var (first, last) = team.Share(member, count, align);
            if (last < count) Assert.Equal(0, (last - first) % align);
            for (int i = first; i < last; i++) covered[i]++;
        }
        Assert.All(covered, c => Assert.Equal(1, c));
    }

    [Fact]
    public void A_team_needs_a_member_and_refuses_work_after_disposal()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerTeam(0));
        var team = new WorkerTeam(2);
        team.Dispose();
        Assert.Throws<ObjectDisposedException>(() => team.Run(_ => { }));
    }
}
