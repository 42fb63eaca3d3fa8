using System.Runtime.InteropServices;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// The forward backend of an expert-parallel generation: LibTorch passes (<see cref="TorchForwardBackend"/>; the MoE
/// layers carry the <see cref="ReplicatedExpertExecutor"/>), with two duties around them. Before a decode step it lets
/// <see cref="ExpertParallelInference"/> re-plan when one is due, so every rank switches placement between the same two
/// steps. After every pass it broadcasts rank 0's logits: every rank then samples the same token even if its own
/// LibTorch summed in another order (another thread count, say), so no rank can stop early or run a different
/// number of passes, which would leave the others waiting in a collective.
/// </summary>
internal sealed class ExpertParallelBackend(ExpertParallelInference parallel, AttentionMode mode)
    : ForwardBackend(parallel.Model)
{
    private readonly TorchForwardBackend _inner = new(parallel.Model, mode);

    public override int MaxRows => _inner.MaxRows;

    public override ModelOutput Step(Tensor tokens, PagedLatentCache cache)
    {
        parallel.BeforeDecodeStep();
        return Synchronized(_inner.Step(tokens, cache));
    }

    public override ModelOutput Prefill(long[] tokens, PagedLatentCache cache, bool everyHidden) =>
        Synchronized(_inner.Prefill(tokens, cache, everyHidden));

    public override ModelOutput DraftMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache) =>
        Synchronized(_inner.DraftMtp(depth, previous, nextTokens, cache));

    private ModelOutput Synchronized(ModelOutput output)
    {
        var group = parallel.Group;
        if (group.Size == 1) return output;
        using var logits = output.Logits.to(ScalarType.Float32).contiguous().clone();
        group.Broadcast(MemoryMarshal.Cast<byte, float>(logits.bytes), root: 0);
        using (no_grad()) output.Logits.copy_(logits);
        return output;
    }

    public override void Dispose()
    {
        _inner.Dispose();
        base.Dispose();
    }
}
