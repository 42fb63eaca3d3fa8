using DeepSeekV3.Configuration;

namespace DeepSeekV3.Training.Pipeline;

/// <summary>
/// Where each part of the model lives in a pipeline of P ranks: the model's main blocks cut into K stages (K = P, or
/// 2P for DualPipeV) of consecutive blocks, as even as the block count allows (earlier stages take the remainder);
/// the embedding on the first stage, the final norm, head and MTP modules on the last — and, since the MTP modules
/// embed their input tokens, a copy of the embedding there too (DualPipeV holds first and last stage on rank 0, so
/// it keeps one). A micro-batch's flow is the sequence of ranks its stages run on; an op's direction names the flow
/// (DualPipe) or the leg of the V (DualPipeV).
/// </summary>
public sealed class PipelineStageMap
{
    public PipelineStageMap(PipelineKind kind, int ranks, ModelConfig config)
    {
        if (ranks < 1) throw new InvalidArgumentException($"--pp {ranks}: a pipeline needs at least 1 rank");
        Kind = kind;
        Ranks = ranks;
        Stages = kind == PipelineKind.DualPipeV ? 2 * ranks : ranks;
        Blocks = config.NumHiddenLayers;
        MtpModules = config.NumNextnPredictLayers;
        if (Blocks < Stages)
            throw new InvalidArgumentException(
                $"--pp {ranks} --schedule {Name(kind)}: {Stages} stages need at least {Stages} main blocks, the model has {Blocks}");
    }

    public PipelineKind Kind { get; }
    public int Ranks { get; }
    public int Stages { get; }
    public int Blocks { get; }
    public int MtpModules { get; }

    public static string Name(PipelineKind kind) => kind switch
    {
        PipelineKind.OneFOneB => "1f1b",
        PipelineKind.DualPipe => "dualpipe",
        _ => "dualpipev",
    };

    /// <summary>The stage rank <paramref name="rank"/> runs for ops of <paramref name="direction"/> (0 = a, 1 = b).</summary>
    public int StageOf(int rank, int direction) => (Kind, direction) switch
    {
        (PipelineKind.DualPipe, 1) => Ranks - 1 - rank,
        (PipelineKind.DualPipeV, 1) => 2 * Ranks - 1 - rank,
        _ => rank,
    };

    /// <summary>The flow a micro-batch of ops in <paramref name="direction"/> belongs to: DualPipe has two, the others
    /// one (DualPipeV's legs are one flow).</summary>
    public int FlowOf(int direction) => Kind == PipelineKind.DualPipe ? direction : 0;

    /// <summary>The rank that runs <paramref name="stage"/> of a micro-batch in <paramref name="flow"/>.</summary>
    public int RankOf(int stage, int flow) => Kind switch
    {
        PipelineKind.DualPipe => flow == 0 ? stage : Ranks - 1 - stage,
        PipelineKind.DualPipeV => stage < Ranks ? stage : 2 * Ranks - 1 - stage,
        _ => stage,
    };

    /// <summary>Micro-batch <paramref name="index"/> of <paramref name="direction"/> as a position in a step of
    /// <paramref name="microBatches"/>: DualPipe's direction b takes the second half.</summary>
    public int MicroBatchOf(int direction, int index, int microBatches) =>
        Kind == PipelineKind.DualPipe && direction == 1 ? microBatches / 2 + index : index;

    /// <summary>Main blocks [From, To) of <paramref name="stage"/>.</summary>
    public (int From, int To) BlocksOf(int stage)
    {
        int Start(int s) => s * (Blocks / Stages) + Math.Min(s, Blocks % Stages);
        return (Start(stage), Start(stage + 1));
    }

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
        int flows = Kind == PipelineKind.DualPipe ? 2 : 1;
        return StagesUsing(name).SelectMany(s => Enumerable.Range(0, flows).Select(f => RankOf(s, f))).Distinct().Order().ToArray();
    }
}
