using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Training.Pipeline;

/// <summary>
/// Where each part of the model lives in a pipeline of P ranks, for the executor: the stages of the schedule's
/// <see cref="StageLayout"/> (the model's main blocks cut into P, or 2P for DualPipeV, stages; the embedding on the
/// first, the final norm, head and MTP modules on the last — and, since the MTP modules embed their input tokens, a
/// copy of the embedding there too; DualPipeV holds first and last stage on rank 0, so it keeps one). A micro-batch's
/// flow is the sequence of ranks its stages run on; an op's direction names the flow (DualPipe) or the leg of the V
/// (DualPipeV).
/// </summary>
public sealed class PipelineStageMap
{
    private readonly IReadOnlyList<StageModules> _stages;

    public PipelineStageMap(ScheduleKind kind, int ranks, ModelConfig config)
    {
        Layout = new StageLayout(kind, ranks);
        _stages = StageLayout.SplitModel(config, Layout.Stages);
        MtpModules = config.NumNextnPredictLayers;
        Blocks = config.NumHiddenLayers;
    }

    public StageLayout Layout { get; }
    public ScheduleKind Kind => Layout.Kind;
    public int Ranks => Layout.Ranks;
    public int Stages => Layout.Stages;
    public int Blocks { get; }
    public int MtpModules { get; }

    /// <summary>The stage rank <paramref name="rank"/> runs for ops of <paramref name="direction"/>.</summary>
    public int StageOf(int rank, PipelineDirection direction) => Layout.StageOf(rank, direction);

    /// <summary>The flow a micro-batch of ops in <paramref name="direction"/> belongs to: DualPipe has two, the others
    /// one (DualPipeV's legs are one flow).</summary>
    public int FlowOf(PipelineDirection direction) => Kind == ScheduleKind.DualPipe && direction == PipelineDirection.B ? 1 : 0;

    /// <summary>The rank that runs <paramref name="stage"/> of a micro-batch in <paramref name="flow"/>.</summary>
    public int RankOf(int stage, int flow) => Kind switch
    {
        ScheduleKind.DualPipe => flow == 0 ? stage : Ranks - 1 - stage,
        ScheduleKind.DualPipeV => stage < Ranks ? stage : 2 * Ranks - 1 - stage,
        _ => stage,
    };

    /// <summary>Micro-batch <paramref name="index"/> of <paramref name="direction"/> as a position in a step of
    /// <paramref name="microBatches"/>: DualPipe's direction b takes the second half.</summary>
    public int MicroBatchOf(PipelineDirection direction, int index, int microBatches) =>
        Kind == ScheduleKind.DualPipe && direction == PipelineDirection.B ? microBatches / 2 + index : index;

    /// <summary>Main blocks [From, To) of <paramref name="stage"/>.</summary>
    public (int From, int To) BlocksOf(int stage) => (_stages[stage].FirstLayer, _stages[stage].FirstLayer + _stages[stage].LayerCount);

    /// <summary>The stages that use the parameter named <paramref name="name"/> (HF checkpoint name).</summary>
    public IEnumerable<int> StagesUsing(string name)
    {
        if (name.StartsWith("model.embed_tokens.", StringComparison.Ordinal))
            return MtpModules > 0 ? [0, Stages - 1] : [0];
        if (name.StartsWith("model.norm.", StringComparison.Ordinal) || name.StartsWith("lm_head.", StringComparison.Ordinal))
            return [Stages - 1];
        const string prefix = "model.layers.";
        if (name.StartsWith(prefix, StringComparison.Ordinal))
        {
            int end = name.IndexOf('.', prefix.Length);
            int block = int.Parse(name.AsSpan(prefix.Length, end - prefix.Length), System.Globalization.CultureInfo.InvariantCulture);
            if (block >= Blocks) return [Stages - 1];                                    // an MTP module
            return [Enumerable.Range(0, Stages).First(s => BlocksOf(s).To > block)];
        }
        throw new InvalidOperationException($"parameter {name} belongs to no pipeline stage");
    }

    /// <summary>The pipeline ranks holding the parameter named <paramref name="name"/>, ascending.</summary>
    public int[] Holders(string name)
    {
        int flows = Kind == ScheduleKind.DualPipe ? 2 : 1;
        return StagesUsing(name).SelectMany(s => Enumerable.Range(0, flows).Select(f => RankOf(s, f))).Distinct().Order().ToArray();
    }
}
