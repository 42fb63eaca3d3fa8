using System.Diagnostics;
using DeepSeekV3.Tests.Checkpoints.Gguf;
using LLama.Native;

namespace DeepSeekV3.Bench;

/// <summary>
/// llama.cpp through LLamaSharp on the same weights (GGUF F32): prompt in one llama_decode with logits for the last
/// position only, then one llama_decode per token, greedy on the returned logits. F32 KV cache, flash attention off,
/// weights read into memory up front (mmap would fault expert pages in during timing): the settings of the peer check.
/// </summary>
internal sealed class LlamaCppBench : IBenchEngine
{
    private readonly LlamaCppPeer _peer;
    private readonly long[] _prompt;
    private readonly int _decodeSteps, _warmupSteps;
    private readonly List<double> _prefill = [], _decode = [];

    public LlamaCppBench(string gguf, long[] prompt, int decodeSteps, int warmupSteps, int threads)
    {
        _peer = new LlamaCppPeer(gguf, threads, contextSize: (uint)(prompt.Length + decodeSteps + 8));
        _prompt = prompt;
        _decodeSteps = decodeSteps;
        _warmupSteps = warmupSteps;
    }

    public string Name => "llama.cpp (LLamaSharp 0.30.0)";

    public Timings Timings => new(Name, _prefill, _decode);

    public void Repeat(bool record)
    {
        var batch = new LLamaBatch();
        using var context = _peer.CreateContext();
        for (int i = 0; i < _prompt.Length; i++)
            batch.Add((LLamaToken)(int)_prompt[i], i, LLamaSeqId.Zero, i == _prompt.Length - 1);
        var watch = Stopwatch.StartNew();
        LlamaCppPeer.Decode(context, batch);
        int next = ArgMax(context.NativeHandle.GetLogitsIth(_prompt.Length - 1));
        if (record) _prefill.Add(watch.Elapsed.TotalSeconds);
        for (int s = 0; s < _decodeSteps; s++)
        {
            batch.Clear();
            batch.Add((LLamaToken)next, _prompt.Length + s, LLamaSeqId.Zero, true);
            watch.Restart();
            LlamaCppPeer.Decode(context, batch);
            next = ArgMax(context.NativeHandle.GetLogitsIth(0));
            if (record && s >= _warmupSteps) _decode.Add(watch.Elapsed.TotalSeconds);
        }
    }

    public void Dispose() => _peer.Dispose();

    private static int ArgMax(Span<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
}
