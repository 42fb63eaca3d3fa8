using System.Runtime.InteropServices;
using DeepSeekV3.Distributed.Mpi;

namespace DeepSeekV3.Distributed;

/// <summary>
/// Exercises every <see cref="ICommunicator"/> operation on data each rank can compute for every other rank
/// (value = f(rank, index)), and compares the results exactly: sums of small integers are exact in float, so any
/// difference is a wrong transfer, not rounding. Uneven counts include zeros, the point-to-point ring includes a send
/// to self on one rank (bigger than MPICH's eager limit, to show it does not deadlock), and the non-blocking calls
/// run over native memory. What `dsv3 mpi-check` runs; a mismatch throws <see cref="CommunicatorCheckException"/>.
/// </summary>
public sealed unsafe class CommunicatorCheck(ICommunicator world, Action<string> report, int? throwOnRank = null)
{
    private const int N = 1000;
    private int _passed;

    /// <summary>Runs all checks; returns how many passed (all of them, or it throws).</summary>
    public int Run()
    {
        int s = world.Size, me = world.Rank;
        Check("barrier", world.Barrier);
        if (throwOnRank == me)
            throw new CommunicatorCheckException($"failing on purpose after the first check (--throw-on-rank {me})");
        Check("all-reduce float32 sum (in place)", () =>
        {
            var x = Fill(N, i => me + 0.5f * i);
            world.AllReduce<float>(x);
            Expect("all-reduce float32 sum", x, i => Over(r => r + 0.5f * i, (a, b) => a + b));
        });
        Check("all-reduce float64 max / min", () =>
        {
            double F(int r, int i) => (r * 7 + i * 3) % (s + 5) - 2.5;
            var max = Fill(N, i => F(me, i));
            var min = Fill(N, i => F(me, i));
            world.AllReduce<double>(max, ReduceOp.Max);
            world.AllReduce<double>(min, ReduceOp.Min);
            Expect("max", max, i => Over(r => F(r, i), Math.Max));
            Expect("min", min, i => Over(r => F(r, i), Math.Min));
        });
        Check("all-reduce int64 sum (values beyond 2^32)", () =>
        {
            var x = Fill(N, i => ((long)me << 40) + i);
            world.AllReduce<long>(x);
            Expect("int64 sum", x, i => Over(r => ((long)r << 40) + i, (a, b) => a + b));
        });
        Check("all-reduce int32 min", () =>
        {
            var x = Fill(N, i => (i + me * 13) % 17);
            world.AllReduce<int>(x, ReduceOp.Min);
            Expect("int32 min", x, i => Over(r => (i + r * 13) % 17, Math.Min));
        });
        if (world is MpiCommunicator)
            Check("all-reduce of ushort (bf16 bits) and Half is refused", () =>
            {
                Refused("ushort", () => world.AllReduce<ushort>(new ushort[4]));
                Refused("Half", () => world.AllReduce<Half>(new Half[4]));
            });
        Check("all-gather float16 (Half)", () =>
        {
            var receive = new Half[64 * s];
            world.AllGather<Half>(Fill(64, i => (Half)(me * 64 + i)), receive);
            Expect("float16 all-gather", receive, i => (Half)i);
        });
        Check("broadcast ushort (bf16 bits) from the last rank", () =>
        {
            var x = Fill(N, i => (ushort)(me == s - 1 ? 0x3f80 + i : 0));
            world.Broadcast<ushort>(x, s - 1);
            Expect("broadcast", x, i => (ushort)(0x3f80 + i));
        });
        Check("all-gather int32", () =>
        {
            var receive = new int[N * s];
            world.AllGather<int>(Fill(N, i => me * N + i), receive);
            Expect("all-gather", receive, i => i);
        });
        Check("all-gather-v float32, uneven counts incl. zero", () =>
        {
            int[] counts = Counts(r => r * 2 % 3 * 5);
            var receive = new float[counts.Sum()];
            world.AllGatherV<float>(Fill(counts[me], j => me * 100f + j), receive, counts);
            Expect("all-gather-v", receive, Packed(counts, (r, j) => r * 100f + j));
        });
        Check("reduce-scatter float64, uneven blocks", () =>
        {
            int[] counts = Counts(r => (r + 1) % 3 * 4 + 1);
            var receive = new double[counts[me]];
            world.ReduceScatter<double>(Fill(counts.Sum(), i => me * 1000.0 + i), receive, counts);
            int first = counts[..me].Sum();
            Expect("reduce-scatter", receive, j => Over(r => r * 1000.0 + first + j, (a, b) => a + b));
        });
        Check("all-to-all int64", () =>
        {
            var receive = new long[s * 8];
            world.AllToAll<long>(Fill(s * 8, i => me * 1000L + i), receive);
            Expect("all-to-all", receive, i => i / 8 * 1000L + me * 8 + i % 8);
        });
        Check("all-to-all-v float32, uneven counts incl. zero", () =>
        {
            int Count(int from, int to) => (from + 2 * to) % 3 * 3;
            float V(int from, int to, int j) => from * 10000 + to * 100 + j;
            int[] sendCounts = Counts(d => Count(me, d)), receiveCounts = Counts(r => Count(r, me));
            var receive = new float[receiveCounts.Sum()];
            world.AllToAllV<float>(Packed(sendCounts, (d, j) => V(me, d, j)), sendCounts, receive, receiveCounts);
            Expect("all-to-all-v", receive, Packed(receiveCounts, (r, j) => V(r, me, j)));
        });
        Check(s == 1 ? "send/receive to self, 4 MB (past the eager limit)" : "send/receive ring, 4 MB", () =>
        {
            int next = (me + 1) % s, previous = (me + s - 1) % s, n = 1 << 20;
            var send = Fill(n, i => me * 7f + i % 1000);
            var receive = new float[n];
            // Standard-mode sends may wait for their receive: odd ranks receive first so the ring cannot lock up.
            if (me % 2 == 0) { world.Send<float>(send, next, 3); world.Receive<float>(receive, previous, 3); }
            else { world.Receive<float>(receive, previous, 3); world.Send<float>(send, next, 3); }
            Expect("ring", receive, i => previous * 7f + i % 1000);
        });
        Check("split: parity groups ordered by descending rank", () =>
        {
            using var group = world.Split(me % 2, -me);
            int members = (s - me % 2 + 1) / 2, expectedRank = (s - 1 - me) / 2;
            if (group.Size != members || group.Rank != expectedRank)
                throw new CommunicatorCheckException($"rank {me}: split gave rank {group.Rank}/{group.Size}, expected {expectedRank}/{members}");
            var x = new[] { me };
            group.AllReduce<int>(x);
            int sum = Enumerable.Range(0, s).Where(r => r % 2 == me % 2).Sum();
            Expect("split all-reduce", x, _ => sum);
        });
        Check("non-blocking all-reduce + all-gather-v + reduce-scatter + all-to-all-v + send/receive in flight together", NonBlocking);
        return _passed;
    }

    private void NonBlocking()
    {
        int s = world.Size, me = world.Rank;
        int[] gatherCounts = Counts(r => r % 3 * 2), scatterCounts = Counts(r => r % 2 + 1);
        int[] sendCounts = Counts(d => (me + d) % 3), receiveCounts = Counts(r => (r + me) % 3);
        using var reduce = new NativeArray<float>(Fill(N, i => me - 0.25f * i));
        using var gatherSend = new NativeArray<double>(Fill(gatherCounts[me], j => me + j / 8.0));
        using var gatherReceive = new NativeArray<double>(new double[gatherCounts.Sum()]);
        using var scatterSend = new NativeArray<int>(Fill(scatterCounts.Sum(), i => me * i));
        using var scatterReceive = new NativeArray<int>(new int[scatterCounts[me]]);
        using var a2aSend = new NativeArray<long>(Packed(sendCounts, (d, j) => me * 100L + d * 10 + j));
        using var a2aReceive = new NativeArray<long>(new long[receiveCounts.Sum()]);
        using var p2pSend = new NativeArray<float>(Fill(N, i => me * 3f + i));
        using var p2pReceive = new NativeArray<float>(new float[N]);
        var requests = new List<ICommRequest>
        {
            world.SendAsync(p2pSend.Buffer, (me + 1) % s, 9),
            world.ReceiveAsync(p2pReceive.Buffer, (me + s - 1) % s, 9),
            world.AllReduceAsync(reduce.Buffer),
            world.AllGatherVAsync(gatherSend.Buffer, gatherReceive.Buffer, gatherCounts),
            world.ReduceScatterAsync(scatterSend.Buffer, scatterReceive.Buffer, scatterCounts),
            world.AllToAllVAsync(a2aSend.Buffer, sendCounts, a2aReceive.Buffer, receiveCounts),
        };
        while (!requests.All(r => r.Test())) Thread.Yield();
        foreach (var request in requests) request.Dispose();
        Expect("iallreduce", reduce.Span, i => Over(r => r - 0.25f * i, (a, b) => a + b));
        Expect("iallgatherv", gatherReceive.Span, Packed(gatherCounts, (r, j) => r + j / 8.0));
        int first = scatterCounts[..me].Sum();
        Expect("ireduce_scatter", scatterReceive.Span, j => Over(r => r * (first + j), (a, b) => a + b));
        Expect("ialltoallv", a2aReceive.Span, Packed(receiveCounts, (r, j) => r * 100L + me * 10 + j));
        int previous = (me + s - 1) % s;
        Expect("isend/irecv ring", p2pReceive.Span, i => previous * 3f + i);
    }

    private void Refused(string type, Action reduce)
    {
        try { reduce(); }
        catch (MpiException) { return; }
        throw new CommunicatorCheckException($"rank {world.Rank}: an all-reduce of {type} was not refused");
    }

    private void Check(string name, Action body)
    {
        body();
        _passed++;
        report($"ok {_passed,2}  {name}");
    }

    private void Expect<T>(string what, ReadOnlySpan<T> actual, Func<int, T> expected) where T : unmanaged, IEquatable<T>
    {
        for (int i = 0; i < actual.Length; i++)
            if (!actual[i].Equals(expected(i)))
                throw new CommunicatorCheckException(
                    $"{what} on {world.Size} ranks: rank {world.Rank}, element {i}: expected {expected(i)}, found {actual[i]}");
    }

    private void Expect<T>(string what, ReadOnlySpan<T> actual, T[] expected) where T : unmanaged, IEquatable<T>
    {
        if (actual.Length != expected.Length)
            throw new CommunicatorCheckException($"{what}: rank {world.Rank} has {actual.Length} elements, expected {expected.Length}");
        Expect(what, actual, i => expected[i]);
    }

    /// <summary>The reduction over all ranks of f(rank), computed locally.</summary>
    private T Over<T>(Func<int, T> f, Func<T, T, T> combine) =>
        Enumerable.Range(1, world.Size - 1).Aggregate(f(0), (acc, r) => combine(acc, f(r)));

    private int[] Counts(Func<int, int> count) => Enumerable.Range(0, world.Size).Select(count).ToArray();

    private static T[] Fill<T>(int n, Func<int, T> f) => Enumerable.Range(0, n).Select(f).ToArray();

    /// <summary>Blocks of counts[r] elements f(r, j), one after another in rank order.</summary>
    private static T[] Packed<T>(int[] counts, Func<int, int, T> f) =>
        counts.SelectMany((c, r) => Enumerable.Range(0, c).Select(j => f(r, j))).ToArray();

    /// <summary>Native memory for the non-blocking calls, whose buffers must not move while in flight.</summary>
    private sealed class NativeArray<T> : IDisposable where T : unmanaged
    {
        private readonly T* _data;
        private readonly int _length;

        public NativeArray(T[] values)
        {
            _length = values.Length;
            _data = (T*)NativeMemory.Alloc((nuint)Math.Max(1, _length), (nuint)sizeof(T));
            values.CopyTo(Span);
        }

        public Span<T> Span => new(_data, _length);
        public NativeBuffer<T> Buffer => new((nint)_data, _length);
        public void Dispose() => NativeMemory.Free(_data);
    }
}
