using System.Diagnostics;
using System.Runtime.InteropServices;
using DeepSeekV3.Distributed;
using ScottPlot;

namespace DeepSeekV3.Bench;

/// <summary>
/// The measurements. A collective's time is the slowest rank's (each timed call starts after a barrier and the
/// times are max-reduced outside the timed region). Bandwidths follow nccl-tests: algbw = message bytes per rank /
/// time; all-reduce busbw = algbw·2(n−1)/n and all-to-all busbw = algbw·(n−1)/n, the bytes each rank's link carries.
/// </summary>
internal static unsafe class CommWorker
{
    public static int Run(ICommunicator world, CommSettings settings, List<Measurement> memcpy)
    {
        var recorder = new BenchResults(); // the load average before the run
        int n = world.Size;
        var results = new List<Measurement>();
        foreach (long bytes in settings.Sizes())
        {
            int count = (int)(bytes / sizeof(float));
            var data = GC.AllocateArray<float>(count, pinned: true);
            var receive = GC.AllocateArray<float>(count, pinned: true);
            data.AsSpan().Fill(1f);
            results.Add(Measure("all-reduce", bytes, settings, 2.0 * (n - 1) / n, () => Collective(world, () => world.AllReduce<float>(data))));
            int[] counts = Enumerable.Repeat(count / n, n).ToArray();
            results.Add(Measure("all-to-all-v", bytes, settings, (n - 1.0) / n,
                () => Collective(world, () => world.AllToAllV<float>(data, counts, receive, counts))));
            results.Add(Measure("ping-pong 0-1", bytes, settings, null, () => PingPong(world, data)));
            if (world.Rank == 0) Console.Error.Write('.');
        }
        if (world.Rank != 0) return 0;
        Console.Error.WriteLine();
        Report(world, settings, recorder, results, memcpy);
        return 0;
    }

    /// <summary>memcpy of each size between two native buffers (the copy bandwidth of the machine).</summary>
    public static List<Measurement> MeasureMemcpy(CommSettings settings)
    {
        var results = new List<Measurement>();
        foreach (long bytes in settings.Sizes())
        {
            void* from = NativeMemory.Alloc((nuint)bytes), to = NativeMemory.Alloc((nuint)bytes);
            NativeMemory.Fill(from, (nuint)bytes, 1);
            NativeMemory.Fill(to, (nuint)bytes, 2);
            int copies = (int)Math.Max(1, (4L << 20) / bytes); // small copies are timed in batches
            results.Add(Measure("memcpy", bytes, settings, null, () =>
            {
                var watch = Stopwatch.StartNew();
                for (int i = 0; i < copies; i++) Buffer.MemoryCopy(from, to, bytes, bytes);
                return watch.Elapsed.TotalSeconds / copies;
            }));
            NativeMemory.Free(from);
            NativeMemory.Free(to);
        }
        return results;
    }

    private static Measurement Measure(string op, long bytes, CommSettings settings, double? busFactor, Func<double> once)
    {
        once(); // warm-up: connections, page faults
        var medians = Enumerable.Range(0, settings.Repeats)
            .Select(_ => Median(Enumerable.Range(0, settings.Iterations).Select(_ => once()).ToList()))
            .ToList();
        double median = Median(medians), min = medians.Min(), max = medians.Max();
        double GBps(double seconds) => bytes / seconds / 1e9;
        return new Measurement(op, bytes, median, min, max, Math.Round(GBps(median), 3), Math.Round(GBps(max), 3),
            Math.Round(GBps(min), 3), busFactor is double f ? Math.Round(GBps(median) * f, 3) : null);
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private static double Collective(ICommunicator world, Action op)
    {
        world.Barrier();
        var watch = Stopwatch.StartNew();
        op();
        double[] seconds = [watch.Elapsed.TotalSeconds];
        world.AllReduce<double>(seconds, ReduceOp.Max);
        return seconds[0];
    }

    /// <summary>Rank 0 sends to rank 1, which sends it back; one-way time = half the round trip (as rank 0 sees it).</summary>
    private static double PingPong(ICommunicator world, float[] data)
    {
        world.Barrier();
        double[] seconds = [0];
        var watch = Stopwatch.StartNew();
        if (world.Rank == 0)
        {
            world.Send<float>(data, 1);
            world.Receive<float>(data, 1);
            seconds[0] = watch.Elapsed.TotalSeconds / 2;
        }
        else if (world.Rank == 1)
        {
            world.Receive<float>(data, 0);
            world.Send<float>(data, 0);
        }
        world.AllReduce<double>(seconds, ReduceOp.Max);
        return seconds[0];
    }

    private static void Report(ICommunicator world, CommSettings settings, BenchResults recorder, List<Measurement> results,
        List<Measurement> memcpy)
    {
        Console.WriteLine($"{world.Size} ranks, {world.Description}; median of {settings.Repeats} repeats × {settings.Iterations} iterations (range = repeats' min–max)");
        Console.WriteLine($"{"size",8} {"op",-14} {"time µs",10} {"algbw GB/s",18} {"busbw GB/s",11}");
        foreach (var m in results.Concat(memcpy).OrderBy(m => m.Bytes).ThenBy(m => m.Op == "memcpy"))
        {
            string range = $"{m.AlgGBps:F2} ({m.AlgGBpsMin:F2}–{m.AlgGBpsMax:F2})";
            string bus = m.BusGBps is double b ? $"{b:F2}" : "";
            Console.WriteLine($"{Size(m.Bytes),8} {m.Op,-14} {m.Seconds * 1e6,10:F1} {range,18} {bus,11}");
        }
        string name = $"comm-{world.Size}r";
        string path = recorder.Save(name, new
        {
            ranks = world.Size,
            mpi = world.Description,
            launcher = MpiJobLauncher.Mpiexec,
            iterations = settings.Iterations,
            repeats = settings.Repeats,
            note = "time = median over repeats of the per-repeat median; gb_per_s ranges from the slowest and fastest repeat; memcpy measured alone before the MPI job",
            results,
            memcpy,
        });
        Console.WriteLine($"wrote {path} and {Plot(world.Size, results.Concat(memcpy).ToList())}");
    }

    private static string Plot(int ranks, List<Measurement> all)
    {
        var plot = new Plot();
        foreach (var group in all.GroupBy(m => m.Op))
        {
            var line = plot.Add.Scatter(group.Select(m => Math.Log2(m.Bytes)).ToArray(), group.Select(m => m.AlgGBps).ToArray());
            line.LegendText = group.Key;
        }
        plot.Title($"MPI bandwidth, {ranks} ranks on one machine (algbw)");
        plot.XLabel("log2(message bytes per rank)");
        plot.YLabel("GB/s");
        plot.ShowLegend(Edge.Bottom);
        string path = BenchPaths.Result($"comm-{ranks}r.png");
        plot.SavePng(path, 900, 500);
        return path;
    }

    private static string Size(long bytes) => bytes >= 1 << 20 ? $"{bytes >> 20} MB" : $"{bytes >> 10} KB";
}
