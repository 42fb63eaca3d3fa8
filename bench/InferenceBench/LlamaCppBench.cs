using System.Diagnostics;
using DeepSeekV3.Tests.Checkpoints.Gguf;
using LLama.Native;

namespace DeepSeekV3.Bench;

/// <summary>
/// llama.cpp through LLamaSharp on the same weights (GGUF F32): prompt in one llama_decode with logits for the last
/// position only, then one llama_decode per token, greedy on the returned logits. F32 KV cache, flash attention off,
/// weights read into memory up front (mmap would fault expert pages in during timing): the settings of the peer check.
/// </summary>
internal static class LlamaCppBench
{
    public static Timings Run(string gguf, long[] prompt, int decodeSteps, int repeats, int warmupSteps, int threads)
    {
        using var peer = new LlamaCppPeer(gguf, threads, contextSize: (uint)(prompt.Length + decodeSteps + 8));
        var prefill = new List<double>();
        var decode = new List<double>();
        var batch = new LLamaBatch();
        for (int r = 0; r < repeats + 1; r++)
        {
            using var context = peer.CreateContext();
            batch.Clear();
            for (int i = 0; i < prompt.Length; i++)
                batch.Add((LLamaToken)(int)prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
            var watch = Stopwatch.StartNew();
            LlamaCppPeer.Decode(context, batch);
            int next = ArgMax(context.NativeHandle.GetLogitsIth(prompt.Length - 1));
            if (r > 0) prefill.Add(watch.Elapsed.TotalSeconds);
            for (int s = 0; s < decodeSteps; s++)
            {
                batch.Clear();
                batch.Add((LLamaToken)next, prompt.Length + s, LLamaSeqId.Zero, true);
                watch.Restart();
                LlamaCppPeer.Decode(context, batch);
                next = ArgMax(context.NativeHandle.GetLogitsIth(0));
                if (r > 0 && s >= warmupSteps) decode.Add(watch.Elapsed.TotalSeconds);
            }
        }
        return new Timings("llama.cpp (LLamaSharp 0.30.0)", prefill, decode);
    }

    private static int ArgMax(Span<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
}
