namespace DeepSeekV3.Server;

/// <summary>What a <c>dsv3 serve</c> process does (<c>--role</c>).</summary>
public enum ServeRole
{
    /// <summary>Prefill and decode in one engine (the default; with <see cref="ServerOptions.PrefillWorkers"/> &gt; 0,
    /// on separate threads of this process).</summary>
    Colocated,

    /// <summary>Prefill only: POST /v1/prefill answers with a prompt's latent cache, first token and sampler state.</summary>
    Prefill,

    /// <summary>The front: the OpenAI API, every prompt prefilled by the prefill server at
    /// <see cref="ServerOptions.PrefillUrl"/>, decoding here.</summary>
    Decode,
}
