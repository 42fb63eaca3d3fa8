namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// The per-rank programs of one optimizer step of pipeline-parallel training: the one schedule generator the
/// executor and <c>dsv3 schedule</c> share. <see cref="MicroBatches"/> is the reference's <c>num_chunks</c>: DualPipe
/// runs M/2 micro-batches in each direction, DualPipeV all M through both legs, 1F1B all M in direction a.
/// </summary>
public sealed record PipelineSchedule
{
    private PipelineSchedule(StageLayout layout, int microBatches, IReadOnlyList<RankProgram> programs)
    {
        Layout = layout;
        MicroBatches = microBatches;
        Programs = programs;
    }

    public StageLayout Layout { get; }
    public ScheduleKind Kind => Layout.Kind;
    public int Ranks => Layout.Ranks;
    public int MicroBatches { get; }
    public IReadOnlyList<RankProgram> Programs { get; }

    /// <summary>Micro-batches that travel each used direction.</summary>
    public int MicroBatchesPerDirection => Kind == ScheduleKind.DualPipe ? MicroBatches / 2 : MicroBatches;

    /// <summary>The schedule of <paramref name="kind"/> for <paramref name="ranks"/> pipeline ranks and
    /// <paramref name="microBatches"/> micro-batches; refuses the layouts the reference refuses.</summary>
    public static PipelineSchedule Build(ScheduleKind kind, int ranks, int microBatches)
    {
        Validate(kind, ranks, microBatches);
        var layout = new StageLayout(kind, ranks);
        var programs = Enumerable.Range(0, ranks).Select(rank => kind == ScheduleKind.OneFOneB
            ? new OneFOneBProgramBuilder(layout, rank, microBatches).Build()
            : new BidirectionalProgramBuilder(layout, rank, microBatches).Build()).ToList();
        return new PipelineSchedule(layout, microBatches, programs);
    }

    /// <summary>The reference's asserts (dualpipe.py / dualpipev.py <c>step</c>), as typed errors naming the rule.</summary>
    public static void Validate(ScheduleKind kind, int ranks, int microBatches)
    {
        string name = KindName(kind);
        if (ranks < 1) throw new ScheduleLayoutException("P ≥ 1", $"{name}: {ranks} pipeline ranks");
        if (microBatches < 1) throw new ScheduleLayoutException("M ≥ 1", $"{name}: {microBatches} micro-batches");
        if (kind == ScheduleKind.DualPipe && ranks % 2 != 0)
            throw new ScheduleLayoutException("DualPipe needs an even number of ranks", $"{name}: {ranks} pipeline ranks");
        if (kind == ScheduleKind.DualPipe && microBatches % 2 != 0)
            throw new ScheduleLayoutException("DualPipe needs an even number of micro-batches, half in each direction",
                $"{name}: {microBatches} micro-batches");
        if (kind != ScheduleKind.OneFOneB && microBatches < 2 * ranks)
            throw new ScheduleLayoutException($"{name} needs at least 2 × ranks micro-batches",
                $"{name}: {microBatches} micro-batches on {ranks} ranks, expected at least {2 * ranks}");
    }

    /// <summary>1f1b, dualpipe or dualpipev.</summary>
    public static ScheduleKind ParseKind(string value) => value.ToLowerInvariant() switch
    {
        "1f1b" => ScheduleKind.OneFOneB,
        "dualpipe" => ScheduleKind.DualPipe,
        "dualpipev" => ScheduleKind.DualPipeV,
        _ => throw new InvalidArgumentException($"schedule kind \"{value}\": expected 1f1b, dualpipe or dualpipev"),
    };

    public static string KindName(ScheduleKind kind) => kind switch
    {
        ScheduleKind.OneFOneB => "1F1B",
        ScheduleKind.DualPipe => "DualPipe",
        _ => "DualPipeV",
    };

    /// <summary>One line per rank, <c>rank R: op op …</c> (<c>dsv3 schedule --format ops</c>).</summary>
    public string FormatOps() => string.Join('\n', Programs) + "\n";

    /// <summary>
    /// Runs every rank's exchanges as an executor would, with each exchange's sends and receives completing only
    /// once the peer has posted the matching transfer (the strictest MPI semantics: no send buffering), and throws
    /// if some rank would wait forever or a transfer has no partner. Computation is instant here; only the order of
    /// exchanges matters.
    /// </summary>
    public void CheckExchanges()
    {
        // Where each transfer is posted: (rank, transfer) → index of the exchange holding it (Steps.Count = final).
        var postedAt = new Dictionary<(int Rank, Transfer Transfer), int>();
        foreach (var program in Programs)
            for (int s = 0; s <= program.Steps.Count; s++)
                foreach (var transfer in ExchangeAt(program, s))
                    if (!postedAt.TryAdd((program.Rank, transfer), s))
                        throw new InvalidOperationException($"rank {program.Rank}: {transfer} appears twice");
        foreach (var ((rank, transfer), _) in postedAt)
            if (!postedAt.ContainsKey((transfer.Peer, transfer.Counterpart(rank))))
                throw new InvalidOperationException($"rank {rank}: {transfer} has no matching transfer on rank {transfer.Peer}");

        var at = new int[Ranks];                                                     // the exchange each rank waits on
        for (bool progress = true; progress;)
        {
            progress = false;
            foreach (var program in Programs)
            {
                int r = program.Rank;
                while (at[r] <= program.Steps.Count
                       && ExchangeAt(program, at[r]).All(t => at[t.Peer] >= postedAt[(t.Peer, t.Counterpart(r))]))
                {
                    at[r]++;
                    progress = true;
                }
            }
        }
        var stuck = Programs.Where(p => at[p.Rank] <= p.Steps.Count).ToList();
        if (stuck.Count > 0)
            throw new InvalidOperationException($"{KindName(Kind)} {Ranks}×{MicroBatches}: deadlock; " + string.Join("; ",
                stuck.Select(p => $"rank {p.Rank} waits at step {at[p.Rank]} on {string.Join(", ", ExchangeAt(p, at[p.Rank]))}")));
    }

    private static IReadOnlyList<Transfer> ExchangeAt(RankProgram program, int step) =>
        step < program.Steps.Count ? program.Steps[step].Exchange : program.FinalExchange;
}
