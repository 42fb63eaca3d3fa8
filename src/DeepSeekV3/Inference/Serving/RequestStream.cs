using System.Threading.Channels;

namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// A submitted request as its caller sees it: <see cref="Chunks"/> streams what each step of the generation loop
/// produced for it, and completes when the request finishes; <see cref="Completion"/> then gives the whole text and
/// result. A cancelled request's stream and completion end with <see cref="OperationCanceledException"/>; a failure
/// of the loop ends them with its exception.
/// </summary>
public sealed class RequestStream
{
    internal RequestStream(ChannelReader<StreamChunk> chunks, Task<TextResult> completion, int promptTokens)
    {
        Chunks = chunks;
        Completion = completion;
        PromptTokens = promptTokens;
    }

    public ChannelReader<StreamChunk> Chunks { get; }

    public Task<TextResult> Completion { get; }

    public int PromptTokens { get; }
}
