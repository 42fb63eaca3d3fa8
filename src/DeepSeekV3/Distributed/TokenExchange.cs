using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace DeepSeekV3.Distributed;

/// <summary>
/// One all-to-all-v of token rows over an expert-parallel group, in flight: rank r sends
/// <c>sendRows[s]</c> rows to rank s and receives <c>receiveRows[s]</c> rows from it, rows of <c>width</c> fp32
/// values packed in rank order. Forward: <see cref="Begin"/> starts it and returns the receive tensor, which is
/// valid after <see cref="Wait"/>. Backward is the same exchange reversed (counts swapped):
/// <see cref="BeginReverse"/> / <see cref="WaitReverse"/>. Blocking exchanges complete inside Begin.
/// Holds the send tensors until their requests complete (MPI reads them until then).
/// </summary>
internal sealed class TokenExchange
{
    private readonly ICommunicator _group;
    private readonly int[] _sendRows;
    private readonly int[] _receiveRows;
    private readonly long _width;
    private readonly bool _blocking;
    private readonly CommunicationTimer _timer;
    private ICommRequest? _forward;
    private ICommRequest? _backward;
    private Tensor? _forwardSend;
    private Tensor? _backwardSend;
    private Tensor? _backwardReceive;

    public TokenExchange(ICommunicator group, int[] sendRows, int[] receiveRows, long width, bool blocking, CommunicationTimer timer)
    {
        _group = group;
        _sendRows = sendRows;
        _receiveRows = receiveRows;
        _width = width;
        _blocking = blocking;
        _timer = timer;
    }

    public long SentRows => _sendRows.Sum(r => (long)r);
    public long ReceivedRows => _receiveRows.Sum(r => (long)r);

    /// <summary>send: [Σ sendRows, width] fp32. Returns [Σ receiveRows, width], filled once <see cref="Wait"/> returns.</summary>
    public Tensor Begin(Tensor send)
    {
        _forwardSend = Contiguous(send, SentRows);
        var receive = empty([ReceivedRows, _width], ScalarType.Float32);
        _forward = Start(_forwardSend, _sendRows, receive, _receiveRows);
        return receive;
    }

    public void Wait() => Complete(ref _forward, ref _forwardSend);

    /// <summary>grad: [Σ receiveRows, width], the gradient of what <see cref="Begin"/> received; starts sending it back.</summary>
    public void BeginReverse(Tensor grad)
    {
        _backwardSend = Contiguous(grad, ReceivedRows);
        _backwardReceive = empty([SentRows, _width], ScalarType.Float32);
        _backward = Start(_backwardSend, _receiveRows, _backwardReceive, _sendRows);
    }

    /// <summary>The gradient of what <see cref="Begin"/> sent: [Σ sendRows, width]. The caller owns it.</summary>
    public Tensor WaitReverse()
    {
        var result = _backwardReceive ?? throw new InvalidOperationException("WaitReverse before BeginReverse");
        Complete(ref _backward, ref _backwardSend);
        _backwardReceive = null;
        return result;
    }

    /// <summary>Lets the transport progress a pending transfer (MPI moves non-blocking collectives only inside
    /// MPI calls); returns at once.</summary>
    public void Progress()
    {
        _forward?.Test();
        _backward?.Test();
    }

    private Tensor Contiguous(Tensor rows, long expected)
    {
        if (rows.dim() != 2 || rows.shape[0] != expected || rows.shape[1] != _width)
            throw new ArgumentException($"token exchange: expected rows [{expected}, {_width}], found [{string.Join(", ", rows.shape)}]");
        var own = rows.to(ScalarType.Float32).contiguous();
        // to() and contiguous() may hand back the caller's tensor; the exchange disposes its own reference only.
        if (own.Handle == rows.Handle) own = rows.alias();
        return own.DetachFromDisposeScope();
    }

    /// <summary>Null when blocking: the transfer is already complete.</summary>
    private ICommRequest? Start(Tensor send, int[] sendRows, Tensor receive, int[] receiveRows)
    {
        int[] sendCounts = sendRows.Select(r => checked((int)(r * _width))).ToArray();
        int[] receiveCounts = receiveRows.Select(r => checked((int)(r * _width))).ToArray();
        _timer.CountSent(send.numel() * sizeof(float));
        if (!_blocking)
            return _group.AllToAllVAsync(NativeBuffer<float>.Of(send), sendCounts, NativeBuffer<float>.Of(receive), receiveCounts);
        long started = _timer.StartBlocking();
        _group.AllToAllV<float>(MemoryMarshal.Cast<byte, float>(send.bytes), sendCounts,
                                MemoryMarshal.Cast<byte, float>(receive.bytes), receiveCounts);
        _timer.StopBlocking(started);
        return null;
    }

    private void Complete(ref ICommRequest? request, ref Tensor? send)
    {
        if (send is null) throw new InvalidOperationException("token exchange: waiting for a transfer that was not started");
        if (request is not null)
        {
            long started = _timer.StartBlocking();
            request.Wait();
            _timer.StopBlocking(started);
            request.Dispose();
            request = null;
        }
        send.Dispose();
        send = null;
    }
}
