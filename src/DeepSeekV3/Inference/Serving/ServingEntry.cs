using System.Diagnostics;
using System.Text;
using System.Threading.Channels;

namespace DeepSeekV3.Inference.Serving;

/// <summary>One request inside a <see cref="ServingEngine"/>: what the loop keeps for it between steps, and the
/// channel and completion its caller reads. Everything but <see cref="CancelRequested"/> belongs to the loop thread.</summary>
internal sealed class ServingEntry
{
    private readonly Channel<StreamChunk> _chunks = Channel.CreateUnbounded<StreamChunk>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly TaskCompletionSource<TextResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StringBuilder _text = new();

    public ServingEntry(GenerationRequest request, TextStream text, long reservedBlocks)
    {
        Request = request;
        Text = text;
        ReservedBlocks = reservedBlocks;
        Stream = new RequestStream(_chunks.Reader, _completion.Task, request.Prompt.Count);
    }

    public GenerationRequest Request { get; }
    public TextStream Text { get; }

    /// <summary>Cache blocks set aside for the prompt and max_tokens while the request runs.</summary>
    public long ReservedBlocks { get; }

    public RequestStream Stream { get; }

    /// <summary>Since arrival.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    public volatile bool CancelRequested;
    public CancellationTokenRegistration Registration;

    /// <summary>Its prefill, handed over by a prefill worker or process, until admitted (null without separation).</summary>
    public PrefilledRequest? Prefilled { get; set; }

    /// <summary>Null until admitted.</summary>
    public GenerationSequence? Sequence { get; set; }

    /// <summary>The engine's number for it once admitted (0 before), as announced to lockstep followers.</summary>
    public int Id { get; set; }

    /// <summary>Tokens sent to the caller so far.</summary>
    public int Published { get; set; }

    public double? LastTokenSeconds { get; set; }

    /// <summary>Text of tokens not sent yet.</summary>
    public StringBuilder PendingText { get; } = new();

    public void Send(StreamChunk chunk)
    {
        _text.Append(chunk.Text);
        _chunks.Writer.TryWrite(chunk);
    }

    public void Complete(GenerationResult result)
    {
        Registration.Dispose();
        _chunks.Writer.TryComplete();
        _completion.TrySetResult(new TextResult(_text.ToString(), result));
    }

    public void Fail(Exception error)
    {
        Registration.Dispose();
        _chunks.Writer.TryComplete(error);
        if (error is OperationCanceledException cancelled) _completion.TrySetCanceled(cancelled.CancellationToken);
        else _completion.TrySetException(error);
    }
}
