namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// A forward and a backward of different micro-batches run together so that one's computation hides the other's
/// all-to-all and pipeline communication (report §3.2.1, Fig. 4). An executor without an overlapped kernel runs
/// <see cref="Forward"/> then <see cref="Backward"/>, as the reference does; both results are sent after the pair.
/// </summary>
public sealed record OverlappedOp(ForwardOp Forward, BackwardOp Backward) : PipelineOp
{
    public override string ToString() => $"[{Forward}&{Backward}]";
}
