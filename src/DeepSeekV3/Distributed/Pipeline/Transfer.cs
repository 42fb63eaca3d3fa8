namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// One point-to-point message of a pipeline schedule, seen from one end: the activation or gradient of micro-batch
/// <paramref name="MicroBatch"/> in <paramref name="Direction"/>, to or from rank <paramref name="Peer"/>.
/// </summary>
public sealed record Transfer(TransferKind Kind, PipelineDirection Direction, int MicroBatch, int Peer)
{
    public bool IsSend => Kind is TransferKind.SendActivation or TransferKind.SendGradient;

    public bool IsActivation => Kind is TransferKind.SendActivation or TransferKind.ReceiveActivation;

    /// <summary>
    /// The same number at both ends and different for every other message between the same two ranks, so an MPI
    /// executor can match by tag instead of relying on posting order: 4·micro-batch + 2·(gradient) + (direction b).
    /// MPI guarantees tags up to 32767, so up to 8192 micro-batches per direction.
    /// </summary>
    public int Tag => 4 * MicroBatch + (IsActivation ? 0 : 2) + (Direction == PipelineDirection.A ? 0 : 1);

    /// <summary>The transfer as the peer sees it, from rank <paramref name="self"/>.</summary>
    public Transfer Counterpart(int self) => new(Kind switch
    {
        TransferKind.SendActivation => TransferKind.ReceiveActivation,
        TransferKind.ReceiveActivation => TransferKind.SendActivation,
        TransferKind.SendGradient => TransferKind.ReceiveGradient,
        _ => TransferKind.SendGradient,
    }, Direction, MicroBatch, self);

    public override string ToString() =>
        $"{(IsSend ? "send" : "recv")} {(IsActivation ? "act" : "grad")} {(Direction == PipelineDirection.A ? "a" : "b")}{MicroBatch} " +
        $"{(IsSend ? "to" : "from")} {Peer}";
}
