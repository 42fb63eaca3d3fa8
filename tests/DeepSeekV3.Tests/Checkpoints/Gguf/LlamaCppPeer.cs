using LLama;
using LLama.Common;
using LLama.Native;

namespace DeepSeekV3.Tests.Checkpoints.Gguf;

/// <summary>
/// llama.cpp (through LLamaSharp) running a GGUF file with the settings that make it exact enough to compare at 1e-4:
/// F32 KV cache, flash attention off, weights loaded into memory (no mmap), 2 threads, logits at every position.
/// Token ids go straight into the batch, so llama.cpp sees exactly our ids (no BOS added, no tokenizer involved).
/// </summary>
internal sealed class LlamaCppPeer : IDisposable
{
    private readonly ModelParams _parameters;
    private readonly LLamaWeights _weights;

    static LlamaCppPeer() =>
        // llama.cpp logs every loaded tensor at info level; keep only what says something went wrong.
        NativeLogConfig.llama_log_set((level, message) =>
        {
            if (level is LLamaLogLevel.Error or LLamaLogLevel.Warning)
                Console.Error.Write(message);
        });

    public LlamaCppPeer(string ggufPath, int threads = 2, uint contextSize = 512)
    {
        _parameters = new ModelParams(ggufPath)
        {
            ContextSize = contextSize,
            BatchSize = contextSize,
            UBatchSize = contextSize,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
            LoadMode = LLamaLoadMode.None,
        };
        _weights = LLamaWeights.LoadFromFile(_parameters);
    }

    public int VocabSize => _weights.Vocab.Count;

    public LLamaContext CreateContext() => _weights.CreateContext(_parameters);

    /// <summary>All tokens in one batch: logits [position][vocab].</summary>
    public float[][] Prefill(IReadOnlyList<long> tokens)
    {
        using var context = CreateContext();
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++)
            batch.Add((LLamaToken)(int)tokens[i], i, LLamaSeqId.Zero, true);
        Decode(context, batch);
        return Enumerable.Range(0, tokens.Count).Select(i => context.NativeHandle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>One token per llama_decode, attending to llama.cpp's own KV cache: logits [position][vocab].</summary>
    public float[][] DecodeStepwise(IReadOnlyList<long> tokens)
    {
        using var context = CreateContext();
        var rows = new float[tokens.Count][];
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Count; i++)
        {
            batch.Clear();
            batch.Add((LLamaToken)(int)tokens[i], i, LLamaSeqId.Zero, true);
            Decode(context, batch);
            rows[i] = context.NativeHandle.GetLogitsIth(0).ToArray();
        }
        return rows;
    }

    public static void Decode(LLamaContext context, LLamaBatch batch)
    {
        var result = context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok)
            throw new InvalidOperationException($"llama_decode returned {result}");
    }

    public void Dispose() => _weights.Dispose();
}
