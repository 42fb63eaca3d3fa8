using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Server;

/// <summary>How <c>dsv3 serve</c> runs: the model, where to listen, the API key, the engine's limits.</summary>
public sealed record ServerOptions
{
    /// <summary>config.json + safetensors + tokenizer.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>The id clients name in "model"; null: the model directory's name.</summary>
    public string? ModelName { get; init; }

    /// <summary>Loopback unless told otherwise: the server has no TLS.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0: any free port (<see cref="OpenAiServer.Address"/> says which).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>When set, every /v1, /tokenize and /detokenize request needs "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }

    public ServingOptions Serving { get; init; } = new();

    /// <summary>Request bodies larger than this get 413.</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>Log each request to the console.</summary>
    public bool LogRequests { get; init; } = true;

    /// <summary>Rank 0 of a multi-rank job: the engine's parallel parts, made from the loaded model (null: one
    /// process).</summary>
    public Func<Modeling.DeepSeekV3ForCausalLM, ParallelServing>? Parallel { get; init; }

    /// <summary>Colocated, or one side of prefill/decode separation across processes.</summary>
    public ServeRole Role { get; init; } = ServeRole.Colocated;

    /// <summary>The prefill server a decode server sends its prompts to (<see cref="ServeRole.Decode"/>).</summary>
    public Uri? PrefillUrl { get; init; }

    /// <summary>Prefill worker threads apart from the decode loop (0: the decode loop prefills, the plain engine); a
    /// prefill server runs at least one.</summary>
    public int PrefillWorkers { get; init; }

    /// <summary>Prompts that may wait for a prefill worker; one more gets 503.</summary>
    public int MaxPrefillQueue { get; init; } = 1024;

    /// <summary>Serve on the fused decoder from the checkpoint's own weights, without a LibTorch model
    /// (<c>--weights</c>: stored, fp8, bf16, f32); null: the LibTorch model.</summary>
    public Inference.Fused.WeightsMode? Weights { get; init; }

    public string ServedModelName => ModelName ?? new DirectoryInfo(ModelDirectory).Name;
}
