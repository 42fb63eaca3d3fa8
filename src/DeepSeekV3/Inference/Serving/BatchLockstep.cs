using System.Text.Json;
using DeepSeekV3.Distributed;

namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// Keeps the generation batches of several ranks in step, for a server whose passes are collective (expert-parallel
/// inference: every MoE layer exchanges tokens with every rank). Rank 0's <see cref="ServingEngine"/> decides what
/// the batch does — admit a request, drop one, take a step — and announces each decision before it carries it out;
/// the other ranks (<see cref="Follow"/>) carry out the same decisions in the same order on their own batch, so every
/// rank's batch holds the same sequences and runs the same passes. A sequence rank 0 ends for its own reasons (a stop
/// string, a cancelled client, a failed admission) is announced as dropped; one that ends by itself (EOS,
/// max_tokens) ends alike everywhere, since rank 0's logits choose every rank's tokens.
/// Decisions travel as point-to-point messages rather than broadcasts: a follower waiting for the next one polls a
/// non-blocking receive and sleeps between polls once the server has been idle a moment, where a blocking MPI_Bcast
/// would spin a core at 100% (MPICH's progress engine polls) for as long as nobody sends a request.
/// </summary>
public sealed class BatchLockstep(ICommunicator world)
{
    private enum Op { Add = 1, Drop = 2, Step = 3, Stop = 4 }

    /// <summary>The message tag of decisions, apart from anything else sent point-to-point on the same group.</summary>
    private const int Tag = 0x5E7E;

    /// <summary>How long a follower polls without sleeping after a decision: steps of a busy batch follow each other
    /// within this, so the waits cost no latency while decoding.</summary>
    private static readonly TimeSpan SpinFor = TimeSpan.FromMilliseconds(2);

    public ICommunicator World { get; } = world;

    /// <summary>Rank 0: a request joins as <paramref name="id"/>.</summary>
    public void AnnounceAdd(int id, GenerationRequest request) =>
        Announce(Op.Add, id, JsonSerializer.SerializeToUtf8Bytes(request));

    /// <summary>Rank 0: sequence <paramref name="id"/> leaves (whatever its state on the other ranks).</summary>
    public void AnnounceDrop(int id) => Announce(Op.Drop, id, []);

    /// <summary>Rank 0: every running sequence advances one token boundary.</summary>
    public void AnnounceStep() => Announce(Op.Step, 0, []);

    /// <summary>Rank 0: the server stops; the followers return.</summary>
    public void AnnounceStop() => Announce(Op.Stop, 0, []);

    /// <summary>Every other rank: carries out rank 0's decisions on <paramref name="batch"/> until it stops.</summary>
    public void Follow(GenerationBatch batch)
    {
        var sequences = new Dictionary<int, GenerationSequence>();
        while (true)
        {
            int[] header = ReceiveHeader();
            byte[] payload = new byte[header[2]];
            if (payload.Length > 0) World.Receive<byte>(payload, 0, Tag);
            int id = header[1];
            switch ((Op)header[0])
            {
                case Op.Add:
                    var request = JsonSerializer.Deserialize<GenerationRequest>(payload)!;
                    try
                    {
                        sequences[id] = batch.Add(request);
                    }
                    catch (DeepSeekV3Exception)
                    {
                        // Rank 0's admission failed the same way; it announces the drop next.
                    }
                    break;
                case Op.Drop:
                    if (sequences.Remove(id, out var sequence)) batch.Cancel(sequence);
                    break;
                case Op.Step:
                    batch.Step();
                    break;
                case Op.Stop:
                    foreach (var running in sequences.Values) batch.Cancel(running);
                    return;
                default:
                    throw new InvalidOperationException($"lockstep: unknown operation {header[0]} from rank 0");
            }
        }
    }

    private void Announce(Op op, int id, byte[] payload)
    {
        int[] header = [(int)op, id, payload.Length];
        for (int rank = 1; rank < World.Size; rank++)
        {
            World.Send<int>(header, rank, Tag);
            if (payload.Length > 0) World.Send<byte>(payload, rank, Tag);
        }
    }

    /// <summary>The next decision's [op, id, payload bytes]: polled, then slept on once the wait grows past
    /// <see cref="SpinFor"/> (an idle server's followers use next to no CPU; a new request waits at most ~1 ms more).</summary>
    private unsafe int[] ReceiveHeader()
    {
        int[] header = new int[3];
        fixed (int* p = header)
        {
            using var request = World.ReceiveAsync(new NativeBuffer<int>((nint)p, header.Length), 0, Tag);
            var waiting = System.Diagnostics.Stopwatch.StartNew();
            while (!request.Test())
            {
                if (waiting.Elapsed < SpinFor) Thread.Yield();
                else Thread.Sleep(1);
            }
        }
        return header;
    }
}
