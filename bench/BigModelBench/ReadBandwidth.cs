using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace DeepSeekV3.Bench;

/// <summary>
/// The machine's plain read bandwidth, measured in the same run as the engines: <paramref name="threads"/> threads
/// each sum their slice of a buffer far larger than the caches with the widest SIMD vector .NET offers. The best of
/// a few passes: the ceiling a decoder that streams its weights once per token could reach.
/// </summary>
internal static class ReadBandwidth
{
    public static unsafe double GigabytesPerSecond(int threads, long bytes = 1L << 30, int passes = 5)
    {
        nuint length = (nuint)bytes;
        byte* buffer = (byte*)NativeMemory.AlignedAlloc(length, 64);
        try
        {
            NativeMemory.Clear(buffer, length);   // touch every page before timing
            long floats = bytes / sizeof(float), perThread = floats / threads / Vector<float>.Count * Vector<float>.Count;
            double best = 0;
            var sums = new float[threads];
            for (int pass = 0; pass < passes; pass++)
            {
                var watch = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    float* start = (float*)buffer + t * perThread;
                    Vector<float> a = default, b = default, c = default, d = default;
                    int w = Vector<float>.Count;
                    for (long i = 0; i + 4 * w <= perThread; i += 4 * w)
                    {
                        a += Vector.Load(start + i);
                        b += Vector.Load(start + i + w);
                        c += Vector.Load(start + i + 2 * w);
                        d += Vector.Load(start + i + 3 * w);
                    }
                    sums[t] = Vector.Sum(a + b + c + d);   // keeps the loads alive
                });
                best = Math.Max(best, perThread * threads * sizeof(float) / watch.Elapsed.TotalSeconds / 1e9);
            }
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }
}
