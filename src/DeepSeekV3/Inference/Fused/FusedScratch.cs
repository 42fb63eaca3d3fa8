using System.Runtime.CompilerServices;
using DeepSeekV3.Configuration;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// The fp32 working buffers of one <see cref="FusedDecoder"/> step, sized for up to <see cref="Rows"/> token rows
/// and grown on demand (pinned, so the kernels take their addresses once). One owner: the decoder.
/// </summary>
internal sealed unsafe class FusedScratch
{
    private readonly ModelConfig _config;

    public FusedScratch(ModelConfig config) => _config = config;

    public int Rows { get; private set; }

    public float* Residual, Normed, Combined, QueryLatentInput, Query, KeyValue, Latent, RopeKey, Cos, Sin;
    public float* QueryLatent, OutputLatent, AttentionOutput, Projected;
    public float* RouterLogits, ExpertInput, Gate, Up, ExpertOutput, Routed;

    /// <summary>Per team member: the intermediate activations of the routed experts it runs, MemberIntermediate
    /// floats each (rows · moe_intermediate_size).</summary>
    public float* MemberGate, MemberUp;
    public int MemberIntermediate { get; private set; }

    /// <summary>Per team member: block scores of the attention kernel.</summary>
    public float* AttentionTemp;
    public int AttentionTempPerMember { get; private set; }
    public float* Scores;
    private int _scoreCapacity, _tempCapacity, _memberCapacity;
    private readonly List<float[]> _arrays = [];

    /// <summary>Makes every buffer hold <paramref name="rows"/> rows and the scores <paramref name="keys"/> keys per head.</summary>
    public void Ensure(int rows, long keys, int members, int blockSize)
    {
        if (rows > Rows)
        {
            _arrays.Clear();
            var c = _config;
            int h = c.HiddenSize, heads = c.NumAttentionHeads, r = c.KvLoraRank, dr = c.QkRopeHeadDim;
            int intermediate = Math.Max(c.IntermediateSize, Math.Max(c.MoeIntermediateSize * Math.Max(1, c.NSharedExperts), 1));
            Residual = Allocate(rows * h);
            Normed = Allocate(rows * h);
            Combined = Allocate(rows * 2 * h);
            QueryLatentInput = Allocate(rows * (c.QLoraRank ?? 1));
            Query = Allocate(rows * heads * c.QkHeadDim);
            KeyValue = Allocate(rows * (r + dr));
            Latent = Allocate(rows * r);
            RopeKey = Allocate(rows * dr);
            Cos = Allocate(rows * dr / 2);
            Sin = Allocate(rows * dr / 2);
            QueryLatent = Allocate(rows * heads * (r + dr));             // [latent query ; RoPE query] per head
            OutputLatent = Allocate(rows * heads * r);
            AttentionOutput = Allocate(rows * heads * c.VHeadDim);
            Projected = Allocate(rows * h);
            RouterLogits = Allocate(rows * Math.Max(1, c.NRoutedExperts));
            int expertRows = rows * Math.Max(1, c.NumExpertsPerTok);     // every row's routed experts, gathered
            ExpertInput = Allocate(expertRows * h);
            Gate = Allocate(rows * intermediate);
            Up = Allocate(rows * intermediate);
            ExpertOutput = Allocate(expertRows * h);
            Routed = Allocate(rows * h);
            Rows = rows;
            _scoreCapacity = _tempCapacity = _memberCapacity = 0;
        }
        if (members * rows * _config.MoeIntermediateSize > _memberCapacity)
        {
            MemberIntermediate = rows * _config.MoeIntermediateSize;
            _memberCapacity = members * MemberIntermediate;
            MemberGate = Allocate(_memberCapacity);
            MemberUp = Allocate(_memberCapacity);
        }
        if (members * 2 * Kernels.Gemv.MaxRows * blockSize > _tempCapacity)
        {
            AttentionTempPerMember = 2 * Kernels.Gemv.MaxRows * blockSize;
            _tempCapacity = members * AttentionTempPerMember;
            AttentionTemp = Allocate(_tempCapacity);
        }
        if (keys * _config.NumAttentionHeads > _scoreCapacity)
        {
            _scoreCapacity = (int)Math.Max(keys * _config.NumAttentionHeads, 2L * _scoreCapacity);
            Scores = Allocate(_scoreCapacity);
        }
    }

    private float* Allocate(int length)
    {
        var array = GC.AllocateArray<float>(Math.Max(length, 16), pinned: true);
        _arrays.Add(array);
        return (float*)Unsafe.AsPointer(ref array[0]);
    }
}
