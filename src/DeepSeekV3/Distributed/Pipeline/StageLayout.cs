using DeepSeekV3.Configuration;

namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// Which stages each pipeline rank holds and who its neighbours are (DualPipe README; parallel-fp8 notes §2.3).
/// <list type="bullet">
/// <item>1F1B: P stages, rank r holds stage r.</item>
/// <item>DualPipe: P stages; rank r holds stage r for direction a and stage P−1−r for direction b, so every stage
/// exists on two ranks (2× parameters, gradients of the two copies summed) and rank 0 holds both the embedding
/// (b's last stage computes its loss there) and the head.</item>
/// <item>DualPipeV: 2P stages along a V; rank r holds stage r (first leg) and stage 2P−1−r (second leg), 1× parameters.</item>
/// </list>
/// Direction a always flows from rank r to r+1 and b from r+1 to r.
/// </summary>
public sealed record StageLayout
{
    public StageLayout(ScheduleKind kind, int ranks)
    {
        if (ranks < 1) throw new ScheduleLayoutException("P ≥ 1", $"{ranks} pipeline ranks");
        Kind = kind;
        Ranks = ranks;
    }

    public ScheduleKind Kind { get; }
    public int Ranks { get; }

    /// <summary>How many pieces the model is cut into.</summary>
    public int Stages => Kind == ScheduleKind.DualPipeV ? 2 * Ranks : Ranks;

    /// <summary>Copies of each stage's parameters across the pipeline (the report's Table 2 column).</summary>
    public int ParameterCopies => Kind == ScheduleKind.DualPipe ? 2 : 1;

    /// <summary>The directions this kind runs: a only for 1F1B.</summary>
    public IReadOnlyList<PipelineDirection> Directions =>
        Kind == ScheduleKind.OneFOneB ? [PipelineDirection.A] : [PipelineDirection.A, PipelineDirection.B];

    /// <summary>The stage rank <paramref name="rank"/> runs for <paramref name="direction"/>.</summary>
    public int StageOf(int rank, PipelineDirection direction)
    {
        if (direction == PipelineDirection.A) return rank;
        return Kind switch
        {
            ScheduleKind.DualPipe => Ranks - 1 - rank,
            ScheduleKind.DualPipeV => 2 * Ranks - 1 - rank,
            _ => throw new ScheduleLayoutException("1F1B has one direction", "1F1B has no direction b"),
        };
    }

    /// <summary>True where <paramref name="direction"/>'s input does not come from a neighbour: rank 0 for a, the
    /// last rank for b (DualPipeV's second leg starts from the first leg's output on the same rank).</summary>
    public bool EntersAt(int rank, PipelineDirection direction) =>
        rank == (direction == PipelineDirection.A ? 0 : Ranks - 1);

    /// <summary>True where <paramref name="direction"/>'s output goes to no neighbour: the last rank for a, rank 0 for b.</summary>
    public bool LeavesAt(int rank, PipelineDirection direction) =>
        rank == (direction == PipelineDirection.A ? Ranks - 1 : 0);

    /// <summary>The rank a stage input of <paramref name="direction"/> comes from.</summary>
    public int PreviousRank(int rank, PipelineDirection direction) => direction == PipelineDirection.A ? rank - 1 : rank + 1;

    /// <summary>The rank a stage output of <paramref name="direction"/> goes to.</summary>
    public int NextRank(int rank, PipelineDirection direction) => direction == PipelineDirection.A ? rank + 1 : rank - 1;

    /// <summary>The modules rank <paramref name="rank"/> holds, one entry per stage copy (direction a first).</summary>
    public IReadOnlyList<StageModules> ModulesOf(int rank, ModelConfig config)
    {
        var split = SplitModel(config, Stages);
        return Directions.Select(d => split[StageOf(rank, d)]).ToList();
    }

    /// <summary>
    /// Cuts the model into <paramref name="stages"/> stages of consecutive decoder layers, counting each MTP module as
    /// one more layer of the last stage (it is a full block). Layers are spread evenly; where they do not divide, the
    /// stages one layer short are taken from the two ends in turn, since those also carry the embedding and the head.
    /// </summary>
    public static IReadOnlyList<StageModules> SplitModel(ModelConfig config, int stages)
    {
        int layers = config.NumHiddenLayers, mtp = config.NumNextnPredictLayers, units = layers + mtp;
        if (stages < 1 || layers < stages)
            throw new ScheduleLayoutException("every stage holds a decoder layer",
                $"{stages} pipeline stages for {layers} decoder layers");
        int shortStages = stages - units % stages;
        if (units % stages == 0) shortStages = 0;
        var sizes = Enumerable.Repeat(units / stages + (shortStages == 0 ? 0 : 1), stages).ToArray();
        // Ends first, in turn (front, back, front, …), skipping the last stage when shortening it would leave it only
        // the MTP modules.
        var ends = Enumerable.Range(0, stages).Select(i => i % 2 == 0 ? i / 2 : stages - 1 - i / 2)
            .Where(s => stages == 1 || s != stages - 1 || sizes[s] - 1 > mtp);
        foreach (int s in ends.Take(shortStages).ToList())
            sizes[s]--;
        if (sizes[^1] <= mtp && stages > 1)
            throw new ScheduleLayoutException("every stage holds a decoder layer",
                $"{stages} pipeline stages leave the last stage only the {mtp} MTP module(s)");
        var result = new List<StageModules>(stages);
        int first = 0;
        for (int s = 0; s < stages; s++)
        {
            bool last = s == stages - 1;
            int count = last ? sizes[s] - mtp : sizes[s];
            result.Add(new StageModules(s, first, count, s == 0, last, last ? mtp : 0));
            first += count;
        }
        return result;
    }
}
