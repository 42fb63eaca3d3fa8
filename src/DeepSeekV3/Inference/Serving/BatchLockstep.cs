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
/// </summary>
public sealed class BatchLockstep(ICommunicator world)
{
    private enum Op { Add = 1, Drop = 2, Step = 3, Stop = 4 }

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
            int[] header = new int[3];
            World.Broadcast<int>(header, 0);
            byte[] payload = new byte[header[2]];
            if (payload.Length > 0) World.Broadcast<byte>(payload, 0);
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
        World.Broadcast<int>(header, 0);
        if (payload.Length > 0) World.Broadcast<byte>(payload, 0);
    }
}
