using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;

namespace DeepSeekV3.Bench;

/// <summary>
/// llama.cpp through LLamaSharp on a GGUF file. The weights are memory-mapped by default (llama.cpp's own default,
/// and the only way a 17 GB Q8_0 file leaves room on a 24 GB machine); <c>--mmap false</c> reads them into memory.
/// F16 KV cache and flash attention off (llama.cpp's CPU defaults, except flash attention, which the peer tests
/// also keep off). Token ids go straight into the batch.
/// </summary>
internal sealed class LlamaCppBigEngine(string gguf, int threads, bool memoryMap, uint contextSize, uint sequences) : IBigModelEngine
{
    private LLamaWeights? _weights;
    private ModelParams? _parameters;

    static LlamaCppBigEngine() =>
        NativeLogConfig.llama_log_set((level, message) =>
        {
            if (level is LLamaLogLevel.Error or LLamaLogLevel.Warning)
                Console.Error.Write(message);
        });

    public string Name => "llama.cpp (LLamaSharp 0.30.0)";

    public void Load()
    {
        _parameters = new ModelParams(gguf)
        {
            ContextSize = contextSize,
            BatchSize = 512,
            UBatchSize = 512,
            SeqMax = sequences,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            FlashAttention = false,
            LoadMode = memoryMap ? LLamaLoadMode.MemoryMap : LLamaLoadMode.None,
        };
        _weights = LLamaWeights.LoadFromFile(_parameters);
    }

    public double Prefill(long[] prompt)
    {
        using var context = _weights!.CreateContext(_parameters!);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++)
            batch.Add((LLamaToken)(int)prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        var watch = Stopwatch.StartNew();
        Decode(context, batch);
        _ = ArgMax(context.NativeHandle.GetLogitsIth(prompt.Length - 1));
        return watch.Elapsed.TotalSeconds;
    }

    public double[] Decode(long[][] contexts, int batchSize, int steps)
    {
        using var context = _weights!.CreateContext(_parameters!);
        var batch = new LLamaBatch();
        // Every sequence's own prompt in one llama_decode, logits at each sequence's last position.
        for (int s = 0; s < batchSize; s++)
            for (int i = 0; i < contexts[s].Length; i++)
                batch.Add((LLamaToken)(int)contexts[s][i], i, (LLamaSeqId)s, i == contexts[s].Length - 1);
        Decode(context, batch);
        var next = new int[batchSize];
        for (int s = 0; s < batchSize; s++)
            next[s] = ArgMax(context.NativeHandle.GetLogitsIth((s + 1) * contexts[s].Length - 1));

        var seconds = new double[steps];
        for (int step = 0; step < steps; step++)
        {
            batch.Clear();
            for (int s = 0; s < batchSize; s++)
                batch.Add((LLamaToken)next[s], contexts[s].Length + step, (LLamaSeqId)s, true);
            var watch = Stopwatch.StartNew();
            Decode(context, batch);
            for (int s = 0; s < batchSize; s++)
                next[s] = ArgMax(context.NativeHandle.GetLogitsIth(s));
            seconds[step] = watch.Elapsed.TotalSeconds;
        }
        return seconds;
    }

    public void Dispose() => _weights?.Dispose();

    private static void Decode(LLamaContext context, LLamaBatch batch)
    {
        var result = context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok)
            throw new InvalidOperationException($"llama_decode returned {result}");
    }

    private static int ArgMax(Span<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
}
