// Small-batch linear (decode GEMV): LibTorch's `linear` vs our SmallBatchLinear kernel on the same weights,
// side by side, as weight bytes streamed per second. Usage: dotnet run -c Release --project bench/KernelBench [-- --threads N]
using DeepSeekV3.Bench;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DeepSeekV3.Kernels;
using DeepSeekV3.Precision;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

var recorder = new BenchResults();
int repeats = 30;
int threadsArg = Array.IndexOf(args, "--threads");
if (threadsArg >= 0) set_num_threads(int.Parse(args[threadsArg + 1]));
var rows = new List<Dictionary<string, object>>();
Console.WriteLine($"threads {get_num_threads()}, weight 4096 x 4096, median of {repeats}");
Console.WriteLine("fp8: E4M3 with 128x128 block scales, bytes = codes + scales; torch has no fp8 linear, so its column runs the same weights dequantized to bf16");
Console.WriteLine($"{"dtype",-6} {"rows",5} {"torch GB/s",11} {"ours GB/s",10} {"speedup",8} {"ours GFLOP/s",13} {"max rel err",12}");
using var _ = no_grad();
foreach (var dtype in args.Contains("--cold-only") ? [] : new[] { ScalarType.Float32, ScalarType.BFloat16, Float8E4M3.TorchType })
{
    bool fp8 = dtype == Float8E4M3.TorchType;
    using var source = randn(4096, 4096);
    var (codes, scales) = fp8 ? BlockQuantization.QuantizeWeight(source) : (source.to(dtype), null);
    using var weight = fp8 ? BlockQuantization.DequantizeWeight(codes, scales!, ScalarType.BFloat16) : codes;   // what torch runs
    using var __ = codes;
    using var ___ = scales;
    foreach (int m in new[] { 1, 2, 4, 8, 16 })
    {
        using var x = randn(m, 4096).to(fp8 ? ScalarType.BFloat16 : dtype);
        double Median(Func<Tensor> f)
        {
            for (int i = 0; i < 3; i++) f().Dispose();
            var times = Enumerable.Range(0, repeats).Select(_ =>
            {
                var watch = Stopwatch.StartNew();
                f().Dispose();
                return watch.Elapsed.TotalSeconds;
            }).Order().ToArray();
            return times[repeats / 2];
        }
        double bytes = codes.NumberOfElements * codes.ElementSize + (scales is null ? 0 : scales.NumberOfElements * 4);
        double flops = 2.0 * m * weight.NumberOfElements;
        double torchSeconds = Median(() => nn.functional.linear(x, weight));
        double oursSeconds = Median(() => fp8 ? Fp8Forward(x, codes, scales!) : SmallBatchLinear.Forward(x, weight));
        using var reference = nn.functional.linear(x.to(ScalarType.Float32), weight.to(ScalarType.Float32));
        using var ours = (fp8 ? Fp8Forward(x, codes, scales!) : SmallBatchLinear.Forward(x, weight)).to(ScalarType.Float32);
        double error = ((ours - reference).abs().max() / reference.abs().max()).item<float>();
        string name = fp8 ? "fp8" : dtype == ScalarType.Float32 ? "f32" : "bf16";
        double torchBytes = weight.NumberOfElements * weight.ElementSize;
        Console.WriteLine($"{name,-6} {m,5} {torchBytes / torchSeconds / 1e9,11:F1} {bytes / oursSeconds / 1e9,10:F1} {torchSeconds / oursSeconds,8:F2} {flops / oursSeconds / 1e9,13:F1} {error,12:E1}");
        rows.Add(new() { ["dtype"] = name, ["rows"] = m, ["torch_gb_per_s"] = Math.Round(torchBytes / torchSeconds / 1e9, 2),
                         ["ours_gb_per_s"] = Math.Round(bytes / oursSeconds / 1e9, 2), ["ours_gflop_per_s"] = Math.Round(flops / oursSeconds / 1e9, 2),
                         ["max_relative_error"] = error });
    }
}
// Decoding reads each weight once per token, long after it was last touched: cold weights. Each shape is cycled
// over enough copies (≥ 256 MB) that none is still in the 32 MB L3 when it comes round again.
var cold = new List<Dictionary<string, object>>();
Console.WriteLine();
Console.WriteLine("cold weights, 1 row, f32 (the bench models' decode shapes)");
Console.WriteLine($"{"shape",-14} {"torch GB/s",11} {"ours GB/s",10} {"speedup",8} {"ours, team of 2",16} {"read-only, 1",13} {"read-only, 2",13}");
using var team = new WorkerTeam(2);
foreach (var (n, k) in new[] { (8192, 320), (320, 160), (160, 320), (32000, 1024), (512, 1024), (1024, 512), (4096, 4096) })
{
    long bytes = 4L * n * k;
    int copies = (int)Math.Max(2, (256L << 20) / bytes);
    var weights = Enumerable.Range(0, copies).Select(_ => randn(n, k)).ToArray();
    using var x = randn(1, k);
    double torchSeconds = ColdSeconds(weights, w => nn.functional.linear(x, w));
    double oursSeconds = ColdSeconds(weights, w => SmallBatchLinear.Forward(x, w));
    double teamSeconds = ColdSeconds(weights, w => TeamMultiply(x, w, team));
    double readSeconds = ColdSeconds(weights, w => ReadAll(w, null)), readTeamSeconds = ColdSeconds(weights, w => ReadAll(w, team));
    foreach (var w in weights) w.Dispose();
    Console.WriteLine($"{$"{n}x{k}",-14} {bytes / torchSeconds / 1e9,11:F1} {bytes / oursSeconds / 1e9,10:F1} {torchSeconds / oursSeconds,8:F2} {bytes / teamSeconds / 1e9,16:F1} {bytes / readSeconds / 1e9,13:F1} {bytes / readTeamSeconds / 1e9,13:F1}");
    cold.Add(new() { ["shape"] = $"{n}x{k}", ["torch_gb_per_s"] = Math.Round(bytes / torchSeconds / 1e9, 2),
                     ["ours_gb_per_s"] = Math.Round(bytes / oursSeconds / 1e9, 2), ["ours_team_of_2_gb_per_s"] = Math.Round(bytes / teamSeconds / 1e9, 2),
                     ["read_only_gb_per_s"] = Math.Round(bytes / readSeconds / 1e9, 2), ["read_only_team_of_2_gb_per_s"] = Math.Round(bytes / readTeamSeconds / 1e9, 2) });
}

// The same for block-scaled FP8 at DeepSeek-V2-Lite's decode shapes (expert gate/up and down, a shared-expert pair,
// q/kv projections): what the 16B model's decode streams, per core and for a team of two, against reading the bytes.
var coldFp8 = new List<Dictionary<string, object>>();
Console.WriteLine();
Console.WriteLine("cold weights, 1 row, fp8 E4M3 + 128x128 scales (DeepSeek-V2-Lite decode shapes), GB/s of codes");
Console.WriteLine($"{"shape",-14} {"ours, 1",10} {"ours, team of 2",16} {"read-only, 1",13} {"read-only, 2",13} {"team / read-only",17}");
foreach (var (n, k) in new[] { (1408, 2048), (2048, 1408), (2816, 2048), (2048, 2816), (3072, 2048), (2048, 2048) })
{
    long bytes = (long)n * k;
    int copies = (int)Math.Max(2, (256L << 20) / bytes);
    var weights = Enumerable.Range(0, copies).Select(_ =>
    {
        using var source = randn(n, k);
        var (codes, scales) = BlockQuantization.QuantizeWeight(source);
        return (Codes: codes, Scales: scales);
    }).ToArray();
    using var x = randn(1, k);
    double oneSeconds = ColdSeconds(weights, q => Fp8Forward(x, q.Codes, q.Scales));
    double teamSeconds = ColdSeconds(weights, q => Fp8Forward(x, q.Codes, q.Scales, team));
    double readSeconds = ColdSeconds(weights, q => ReadAll(q.Codes, null)), readTeamSeconds = ColdSeconds(weights, q => ReadAll(q.Codes, team));
    foreach (var (codes, scales) in weights) { codes.Dispose(); scales.Dispose(); }
    Console.WriteLine($"{$"{n}x{k}",-14} {bytes / oneSeconds / 1e9,10:F1} {bytes / teamSeconds / 1e9,16:F1} {bytes / readSeconds / 1e9,13:F1} {bytes / readTeamSeconds / 1e9,13:F1} {readTeamSeconds / teamSeconds,17:P0}");
    coldFp8.Add(new() { ["shape"] = $"{n}x{k}", ["ours_gb_per_s"] = Math.Round(bytes / oneSeconds / 1e9, 2),
                        ["ours_team_of_2_gb_per_s"] = Math.Round(bytes / teamSeconds / 1e9, 2),
                        ["read_only_gb_per_s"] = Math.Round(bytes / readSeconds / 1e9, 2), ["read_only_team_of_2_gb_per_s"] = Math.Round(bytes / readTeamSeconds / 1e9, 2) });
}

// What one fork-join costs: an empty job run by the team, back to back, and with 20 µs of work between runs.
double SyncMicroseconds(int gapSpins)
{
    var watch = Stopwatch.StartNew();
    const int runs = 20000;
    for (int i = 0; i < runs; i++)
    {
        team.Run(_ => { });
        if (gapSpins > 0) Thread.SpinWait(gapSpins);
    }
    return watch.Elapsed.TotalMicroseconds / runs;
}
double syncBackToBack = SyncMicroseconds(0);
var gap = Stopwatch.StartNew();
Thread.SpinWait(100_000);
int spinsFor20us = (int)(100_000 * 20 / gap.Elapsed.TotalMicroseconds);
double syncWithGap = SyncMicroseconds(spinsFor20us) - 20;
Console.WriteLine($"team of 2, one empty fork-join: {syncBackToBack:F2} µs back to back, {syncWithGap:F2} µs after 20 µs of other work");

var fp8Decode = Fp8DecodeComparison();
var moeLayer = MoeLayerComparison(team);

string path = recorder.Save("kernel", new { kernel = "small-batch linear", threads = get_num_threads(), rows, cold_single_row = cold, cold_single_row_fp8 = coldFp8,
    team_fork_join_us = new { back_to_back = syncBackToBack, after_20us_gap = syncWithGap }, fp8_decode = fp8Decode, moe_layer_fp8 = moeLayer });
Console.WriteLine($"wrote {path}");

// Median seconds of f over the copies, each copy run once per pass after a first pass that is not timed: every
// call finds its weight cold, since the copies together are larger than L3.
static double ColdSeconds<T>(T[] weights, Func<T, Tensor> f)
{
    foreach (var w in weights) f(w).Dispose();
    var times = new List<double>();
    for (int pass = 0; pass < Math.Max(3, 64 / weights.Length); pass++)
        foreach (var w in weights)
        {
            var watch = Stopwatch.StartNew();
            f(w).Dispose();
            times.Add(watch.Elapsed.TotalSeconds);
        }
    return times.Order().ElementAt(times.Count / 2);
}

// The ceiling: the same bytes only read (a vector sum with four accumulators), by one thread or halves by a team.
static unsafe Tensor ReadAll(Tensor w, WorkerTeam? team)
{
    long count = w.NumberOfElements * w.ElementSize / 4;   // as floats, whatever the element type
    var partial = new float[2];
    fixed (byte* ws = w.bytes)
    {
        float* p = (float*)ws;
        void Sum(int member, int members)
        {
            long per = count / members / 64 * 64, first = member * per, last = member == members - 1 ? count : first + per;
            Vector512<float> a = default, b = default, c = default, d = default;
            for (long i = first; i < last; i += 64)
            {
                a += Vector512.Load(p + i); b += Vector512.Load(p + i + 16);
                c += Vector512.Load(p + i + 32); d += Vector512.Load(p + i + 48);
            }
            partial[member] = Vector512.Sum(a + b + c + d);
        }
        if (team is null) Sum(0, 1);
        else team.Run(member => Sum(member, team.Size));
    }
    return tensor(partial[0] + partial[1]);
}

// The fused decoder's way: the kernel on raw memory, rows shared by a team of spinning workers.
static unsafe Tensor TeamMultiply(Tensor x, Tensor w, WorkerTeam team)
{
    var y = empty(x.shape[0], w.shape[0]);
    fixed (byte* xs = x.bytes)
    fixed (byte* ws = w.bytes)
    fixed (byte* ys = y.bytes)
        Gemv.Multiply((float*)xs, (int)x.shape[0], ws, false, (int)w.shape[0], (int)w.shape[1], (float*)ys, team);
    return y;
}

// FP8 rows through the fused decoder's kernel, on one thread or a team (SmallBatchLinear takes fp32/bf16 tensors only).
static unsafe Tensor Fp8Forward(Tensor x, Tensor codes, Tensor scales, WorkerTeam? team = null)
{
    using var input = x.to(ScalarType.Float32).contiguous();
    var y = empty(x.shape[0], codes.shape[0]);
    var w = new WeightMatrix(codes, scales, "weight");
    fixed (byte* xs = input.bytes)
    fixed (byte* ys = y.bytes)
        w.Multiply((float*)xs, (int)x.shape[0], (float*)ys, team);
    return y;
}

// Two ways to widen E4M3 codes to fp32 in registers, over 16 MB of codes in L3/memory, summed so nothing is
// optimized away: the integer bit manipulation (RowMath.LoadFp8: sign-extend, shift, mask, multiply by 2^120), the
// same without the multiply (RowMath.LoadFp8Shifted, what Gemv runs when x carries the 2^120), and a 128-entry table
// of magnitudes looked up with four two-register permutes (vpermt2ps) and blends, plus the sign bit.
static unsafe Dictionary<string, double> Fp8DecodeComparison()
{
    const int count = 16 << 20;
    var codes = new byte[count];
    new Random(1).NextBytes(codes);
    for (int i = 0; i < count; i++) if ((codes[i] & 0x7F) == 0x7F) codes[i] = 0;    // no NaN codes
    var table = Enumerable.Range(0, 128).Select(c => Float8E4M3.Decode((byte)c)).ToArray();
    double Seconds(Func<float> f)
    {
        f();
        return Enumerable.Range(0, 5).Select(_ => { var watch = Stopwatch.StartNew(); f(); return watch.Elapsed.TotalSeconds; }).Order().ElementAt(2);
    }
    float BitTrick()
    {
        fixed (byte* p = codes)
        {
            Vector512<float> sum = default;
            for (int i = 0; i < count; i += 16) sum += RowMath.LoadFp8(p + i);
            return Vector512.Sum(sum);
        }
    }
    float Shifted()
    {
        fixed (byte* p = codes)
        {
            Vector512<float> sum = default;
            for (int i = 0; i < count; i += 16) sum += RowMath.LoadFp8Shifted(p + i);
            return Vector512.Sum(sum) * RowMath.Fp8Rebias;
        }
    }
    float Lookup()
    {
        fixed (byte* p = codes)
        fixed (float* t = table)
        {
            Vector512<float> t0 = Vector512.Load(t), t1 = Vector512.Load(t + 16), t2 = Vector512.Load(t + 32), t3 = Vector512.Load(t + 48);
            Vector512<float> t4 = Vector512.Load(t + 64), t5 = Vector512.Load(t + 80), t6 = Vector512.Load(t + 96), t7 = Vector512.Load(t + 112);
            Vector512<float> sum = default;
            var bit5 = Vector512.Create(32);
            var bit6 = Vector512.Create(64);
            for (int i = 0; i < count; i += 16)
            {
                var code = Avx512F.ConvertToVector512Int32(Vector128.Load(p + i));          // zero-extended
                var low = Vector512.ConditionalSelect(Vector512.Equals(code & bit5, Vector512<int>.Zero).AsSingle(),
                    Avx512F.PermuteVar16x32x2(t0, code, t1), Avx512F.PermuteVar16x32x2(t2, code, t3));
                var high = Vector512.ConditionalSelect(Vector512.Equals(code & bit5, Vector512<int>.Zero).AsSingle(),
                    Avx512F.PermuteVar16x32x2(t4, code, t5), Avx512F.PermuteVar16x32x2(t6, code, t7));
                var magnitude = Vector512.ConditionalSelect(Vector512.Equals(code & bit6, Vector512<int>.Zero).AsSingle(), low, high);
                sum += (magnitude.AsInt32() | Vector512.ShiftLeft(code & Vector512.Create(0x80), 24)).AsSingle();
            }
            return Vector512.Sum(sum);
        }
    }
    float a = BitTrick(), b = Lookup(), c = Shifted();
    if (a != b) throw new InvalidOperationException($"the two decodings disagree: {a} vs {b}");
    if (Math.Abs(a - c) > 1e-5 * Math.Abs(a)) throw new InvalidOperationException($"the shifted decoding disagrees: {c} vs {a}");
    double bitSeconds = Seconds(BitTrick), shiftedSeconds = Seconds(Shifted), lookupSeconds = Seconds(Lookup);
    Console.WriteLine($"fp8 -> fp32 widening, 16 MB of codes, one thread: bit manipulation {count / bitSeconds / 1e9:F1} G codes/s, " +
                      $"without the rebias multiply {count / shiftedSeconds / 1e9:F1}, 128-entry permute lookup {count / lookupSeconds / 1e9:F1}");
    return new() { ["bit_manipulation_g_codes_per_s"] = Math.Round(count / bitSeconds / 1e9, 2),
                   ["shifted_no_multiply_g_codes_per_s"] = Math.Round(count / shiftedSeconds / 1e9, 2),
                   ["permute_lookup_g_codes_per_s"] = Math.Round(count / lookupSeconds / 1e9, 2) };
}

// A batch-1 MoE layer as the fused decoder runs it on DeepSeek-V2-Lite's shapes: 6 of 64 routed experts (gate and up
// 1408x2048, down 2048x1408, FP8), each member of a team of two taking whole experts, against two reads of as many
// bytes by the same team: the same experts (what the access pattern allows) and one long stream per member (what the
// machine's read ceiling measures). Experts are drawn at random per layer from a 554 MB pool, so every read is cold.
static unsafe Dictionary<string, double> MoeLayerComparison(WorkerTeam team)
{
    const int hidden = 2048, width = 1408, pool = 64, chosen = 6, layers = 300, rounds = 5;
    long matrixBytes = (long)hidden * width, expertBytes = 3 * matrixBytes, poolBytes = pool * expertBytes;
    byte* arena = (byte*)NativeMemory.AlignedAlloc((nuint)poolBytes, 64);
    int blocks = (hidden + 127) / 128 * ((width + 127) / 128);
    float* scales = (float*)NativeMemory.AlignedAlloc((nuint)(blocks * 4), 64);
    float* x = (float*)NativeMemory.AlignedAlloc((nuint)(hidden * 4), 64);
    float* scratch = (float*)NativeMemory.AlignedAlloc((nuint)(team.Size * (2 * width + hidden) * 4), 64);
    try
    {
        var random = new Random(1);
        random.NextBytes(new Span<byte>(arena, checked((int)poolBytes)));
        for (long i = 0; i < poolBytes; i++) if ((arena[i] & 0x7F) == 0x7F) arena[i] = 0;       // no NaN codes
        for (int i = 0; i < blocks; i++) scales[i] = 1f / 448;
        for (int i = 0; i < hidden; i++) x[i] = (float)(random.NextDouble() - 0.5);
        WeightMatrix Matrix(int expert, int which) => new(arena + expert * expertBytes + which * matrixBytes, scales,
            which == 2 ? hidden : width, which == 2 ? width : hidden, WeightFormat.Fp8E4M3, "expert");
        var picks = Enumerable.Range(0, layers).Select(_ => Enumerable.Range(0, pool).OrderBy(_ => random.Next()).Take(chosen).ToArray()).ToArray();
        var sums = new float[team.Size];
        void Kernel(int[] experts) => team.Run(member =>
        {
            float* gate = scratch + member * (2 * width + hidden), up = gate + width, down = up + width;
            for (int i = member; i < chosen; i += team.Size)
            {
                Gemv.Multiply(x, 1, Matrix(experts[i], 0), gate);
                Gemv.Multiply(x, 1, Matrix(experts[i], 1), up);
                RowMath.SiluMul(gate, up, width);
                Gemv.Multiply(gate, 1, Matrix(experts[i], 2), down);
            }
        });
        void Sum(int member, byte* from, long bytes)
        {
            float* p = (float*)from;
            Vector512<float> a = default, b = default, c = default, d = default;
            for (long i = 0; i + 64 <= bytes / 4; i += 64)
            {
                a += Vector512.Load(p + i); b += Vector512.Load(p + i + 16);
                c += Vector512.Load(p + i + 32); d += Vector512.Load(p + i + 48);
            }
            sums[member] += Vector512.Sum(a + b + c + d);
        }
        void ReadExperts(int[] experts) => team.Run(member =>
        {
            for (int i = member; i < chosen; i += team.Size) Sum(member, arena + experts[i] * expertBytes, expertBytes);
        });
        void ReadLong(int[] experts) => team.Run(member =>
        {
            long share = chosen * expertBytes / team.Size / 256 * 256;
            long start = (experts[0] * 7919L * 4096 + member * share) % (poolBytes - share) / 256 * 256;
            Sum(member, arena + start, share);
        });
        var variants = new (string Name, Action<int[]> Run)[] { ("kernel, whole experts per thread", Kernel), ("read-only, the same experts", ReadExperts), ("read-only, one stream per thread", ReadLong) };
        var rates = variants.ToDictionary(v => v.Name, _ => new List<double>());
        for (int round = 0; round <= rounds; round++)                          // round 0 warms up
            foreach (var (name, run) in variants)
            {
                var watch = Stopwatch.StartNew();
                foreach (var experts in picks) run(experts);
                if (round > 0) rates[name].Add(layers * chosen * expertBytes / watch.Elapsed.TotalSeconds / 1e9);
            }
        Console.WriteLine();
        Console.WriteLine($"a batch-1 MoE layer, V2-Lite shapes, FP8: {chosen} of {pool} experts per layer, team of {team.Size}, GB/s over {rounds} rounds");
        var result = new Dictionary<string, double>();
        foreach (var (name, list) in rates)
        {
            var sorted = list.Order().ToArray();
            Console.WriteLine($"{name,-34} median {sorted[sorted.Length / 2],5:F1}  [{sorted[0]:F1}, {sorted[^1]:F1}]");
            result[name] = Math.Round(sorted[sorted.Length / 2], 2);
        }
        return result;
    }
    finally
    {
        NativeMemory.AlignedFree(arena);
        NativeMemory.AlignedFree(scales);
        NativeMemory.AlignedFree(x);
        NativeMemory.AlignedFree(scratch);
    }
}
