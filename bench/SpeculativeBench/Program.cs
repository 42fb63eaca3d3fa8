// MTP speculative decoding vs plain decoding on one model (default: the bundled model), side by side in one process:
// tokens/s, speedup, draft acceptance, and whether greedy outputs are identical.
// Usage: dotnet run -c Release --project bench/SpeculativeBench [-- --model DIR --tokens N --threads T --dtype bf16|f32]
// (--dtype: the weights in memory; default the checkpoint's own)
using DeepSeekV3.Bench;
using System.Diagnostics;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.Tokenization;
using static TorchSharp.torch;

var recorder = new BenchResults();
string modelDir = Arg("--model", Path.Combine(BenchPaths.RepoRoot(), "models", "default"));
int newTokens = int.Parse(Arg("--tokens", "96"));
int threads = int.Parse(Arg("--threads", "2"));
set_num_threads(threads);
string[] prompts =
[
    "The jury said that the election",
    "In the morning, the old man walked",
    "He told them that",
    "春風",
    "明月",
];
string? dtypeName = Arg("--dtype", "");
using var model = dtypeName switch
{
    "" => ModelCheckpoint.Load(modelDir),
    "f32" => ModelCheckpoint.Load(modelDir, CPU, ScalarType.Float32),
    "bf16" => ModelCheckpoint.Load(modelDir, CPU, ScalarType.BFloat16),
    _ => throw new ArgumentException($"--dtype {dtypeName}: expected bf16 or f32"),
};
var tokenizer = ByteLevelBpeTokenizer.Load(modelDir);
var rows = new List<Dictionary<string, object>>();
Console.WriteLine($"model {modelDir} ({model.LmHead.Weight.dtype}), {newTokens} new tokens per prompt, threads {threads}");
Console.WriteLine($"{"sampling",-10} {"plain tok/s",12} {"MTP tok/s",10} {"speedup",8} {"acceptance",11} {"identical",10}");
foreach (double temperature in new[] { 0.0, 0.7 })
{
    double plainSeconds = 0, speculativeSeconds = 0;
    int plainTokens = 0, speculativeTokens = 0, drafted = 0, accepted = 0, identical = 0;
    for (int i = 0; i < prompts.Length; i++)
    {
        var sampling = new SamplingParams { MaxTokens = newTokens, Temperature = temperature, Seed = i, IgnoreEos = true };
        var request = new GenerationRequest(tokenizer.Encode(prompts[i], addSpecialTokens: true).Select(t => (long)t).ToArray(), sampling);
        new GenerationEngine(model).Generate([request]);                           // warm-up, both paths
        new MtpSpeculativeDecoder(model).Generate(request);
        var watch = Stopwatch.StartNew();
        var plain = new GenerationEngine(model).Generate([request])[0];
        plainSeconds += watch.Elapsed.TotalSeconds;
        watch.Restart();
        var speculative = new MtpSpeculativeDecoder(model).Generate(request);
        speculativeSeconds += watch.Elapsed.TotalSeconds;
        plainTokens += plain.Tokens.Length;
        speculativeTokens += speculative.Tokens.Length;
        drafted += speculative.DraftedTokens;
        accepted += speculative.AcceptedTokens;
        if (plain.Tokens.SequenceEqual(speculative.Tokens)) identical++;
        if (temperature == 0 && i < 2)
            Console.WriteLine($"  \"{prompts[i]}\" → {tokenizer.Decode(speculative.Tokens.Select(t => (int)t).ToList(), skipSpecialTokens: true).ReplaceLineEndings(" ")}");
    }
    double plainRate = plainTokens / plainSeconds, speculativeRate = speculativeTokens / speculativeSeconds;
    double acceptance = (double)accepted / drafted;
    string name = temperature == 0 ? "greedy" : $"T={temperature}";
    Console.WriteLine($"{name,-10} {plainRate,12:F1} {speculativeRate,10:F1} {speculativeRate / plainRate,8:F2} {acceptance,11:P1} {$"{identical}/{prompts.Length}",10}");
    rows.Add(new()
    {
        ["temperature"] = temperature, ["plain_tokens_per_s"] = Math.Round(plainRate, 2), ["mtp_tokens_per_s"] = Math.Round(speculativeRate, 2),
        ["speedup"] = Math.Round(speculativeRate / plainRate, 3), ["acceptance"] = Math.Round(acceptance, 4),
        ["identical_outputs"] = identical, ["prompts"] = prompts.Length,
    });
}
// Where the time goes: each pass of a speculative step timed alone (fused decoder, after a 64-token prompt), relative
// to one plain decode step. A step costs a 2-row verify plus a draft over 1 row (rejected) or 2 rows (accepted) and
// yields 1 + acceptance tokens, so its best case is (1 + a) / (verify + draft), before any bookkeeping.
var passes = PassCosts.Measure(model, promptLength: 64);
double greedyAcceptance = (double)rows[0]["acceptance"];
double draftCost = greedyAcceptance * passes.Mtp2 + (1 - greedyAcceptance) * passes.Mtp1;
double ceiling = (1 + greedyAcceptance) / ((passes.Main2 + draftCost) / passes.Main1);
Console.WriteLine();
Console.WriteLine($"pass costs (ms, median): main 1 row {passes.Main1:F3}, main 2 rows (verify) {passes.Main2:F3} ({passes.Main2 / passes.Main1:F2}×), " +
                  $"MTP 1 row {passes.Mtp1:F3} ({passes.Mtp1 / passes.Main1:F2}×), MTP 2 rows {passes.Mtp2:F3} ({passes.Mtp2 / passes.Main1:F2}×), " +
                  $"LM head alone {passes.Head:F3} ({passes.Head / passes.Main1:F2}×)");
Console.WriteLine($"best case at greedy acceptance {greedyAcceptance:P1}: {ceiling:F2}× (measured {(double)rows[0]["speedup"]:F2}×)");
Console.WriteLine($"main model by stage (mean ms): {"stage",-22} {"1 row",8} {"2 rows",8} {"ratio",6}");
foreach (var (stage, (one, two)) in passes.MainStages)
    Console.WriteLine($"{"",30} {stage,-22} {one,8:F3} {two,8:F3} {(one > 0 ? two / one : 0),6:F2}");
string path = recorder.Save($"speculative-{model.LmHead.Weight.dtype.ToString().ToLowerInvariant()}-{threads}t", new { model = modelDir,
    dtype = model.LmHead.Weight.dtype.ToString(), new_tokens = newTokens, threads, rows,
    pass_costs_ms = new { main_1_row = passes.Main1, main_2_rows = passes.Main2, mtp_1_row = passes.Mtp1, mtp_2_rows = passes.Mtp2, lm_head = passes.Head },
    main_stages_ms = passes.MainStages.ToDictionary(p => p.Key, p => new { one_row = p.Value.OneRow, two_rows = p.Value.TwoRows }),
    best_case_speedup_greedy = ceiling });
Console.WriteLine($"wrote {path}");

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
