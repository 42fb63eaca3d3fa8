// The sampler's cost per token: ours (C#, one pass set over the vocabulary row) against the same rules written with
// LibTorch ops (softmax, topk, sort + cumsum for top-p, multinomial; what Sampler used before), side by side on the
// same logits. Usage: dotnet run -c Release --project bench/SamplerBench [-- --vocab N]
using System.Diagnostics;
using DeepSeekV3.Bench;
using DeepSeekV3.Inference;
using static TorchSharp.torch;

var recorder = new BenchResults();
int vocabArg = Array.IndexOf(args, "--vocab");
int[] vocabs = vocabArg >= 0 ? [int.Parse(args[vocabArg + 1])] : [8192, 129280];    // the bundled model's, DeepSeek-V3's
set_num_threads(1);
var settings = new (string Name, SamplingParams Parameters)[]
{
    ("greedy", new SamplingParams()),
    ("T=0.7", new SamplingParams { Temperature = 0.7, Seed = 1 }),
    ("T=0.7 top-k 40", new SamplingParams { Temperature = 0.7, TopK = 40, Seed = 1 }),
    ("T=0.7 top-p 0.9", new SamplingParams { Temperature = 0.7, TopP = 0.9, Seed = 1 }),
};
var rows = new List<Dictionary<string, object>>();
Console.WriteLine($"{"vocab",7} {"sampling",-16} {"LibTorch ops µs",16} {"ours µs",8} {"speedup",8}");
foreach (int vocab in vocabs)
{
    using var logits = randn(vocab, generator: new Generator(7)) * 3;
    foreach (var (name, parameters) in settings)
    {
        var sampler = new Sampler(parameters);
        using var generator = new Generator(1);
        double torchMicroseconds = Median(() => TorchSample(logits, parameters, generator));
        double oursMicroseconds = Median(() => sampler.Sample(logits));
        Console.WriteLine($"{vocab,7} {name,-16} {torchMicroseconds,16:F1} {oursMicroseconds,8:F1} {torchMicroseconds / oursMicroseconds,8:F1}");
        rows.Add(new() { ["vocab"] = vocab, ["sampling"] = name, ["libtorch_us"] = Math.Round(torchMicroseconds, 2),
                         ["ours_us"] = Math.Round(oursMicroseconds, 2) });
    }
}
string path = recorder.Save("sampler", new { rows });
Console.WriteLine($"wrote {path}");

// Median microseconds of one call over 1000 timed calls, after 100 untimed ones.
static double Median(Func<long> sample)
{
    for (int i = 0; i < 100; i++) sample();
    var times = new double[1000];
    for (int i = 0; i < times.Length; i++)
    {
        long start = Stopwatch.GetTimestamp();
        sample();
        times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }
    Array.Sort(times);
    return times[times.Length / 2];
}

// The same rules with LibTorch ops: temperature, top-k mask, softmax, top-p by sort and cumulative sum, multinomial.
static long TorchSample(Tensor logits, SamplingParams p, Generator generator)
{
    using var scope = NewDisposeScope();
    if (p.IsGreedy) return logits.argmax().item<long>();
    var scores = logits / p.Temperature;
    if (p.TopK > 0)
        scores = scores.masked_fill(scores < scores.topk(p.TopK).values[-1], double.NegativeInfinity);
    var probabilities = scores.softmax(0);
    if (p.TopP < 1)
    {
        var (sorted, order) = probabilities.sort(descending: true);
        var drop = zeros_like(sorted, ScalarType.Bool).scatter(0, order, (sorted.cumsum(0) - sorted) >= p.TopP);
        probabilities = probabilities.masked_fill(drop, 0);
        probabilities /= probabilities.sum();
    }
    return multinomial(probabilities, 1, generator: generator).item<long>();
}
