using System.Runtime.InteropServices;
using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed;
using DeepSeekV3.Inference.Eplb;
using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// Carries out a change of <see cref="ExpertPlacement"/>: every rank that is to hold an expert it does not hold yet
/// receives its weights from the lowest rank that holds it now, all transfers in one all-to-all-v (fp32, each
/// expert's gate_proj, up_proj, down_proj flattened in that order), and then every rank holds exactly its new
/// experts, dropping the rest. Every rank computes the same transfer list from the two placements, so no counts are
/// exchanged. Collective: all ranks call it between the same two passes.
/// </summary>
public static class ExpertMover
{
    /// <summary>One expert's weights going from <paramref name="Source"/> to <paramref name="Destination"/>.</summary>
    public sealed record Transfer(int Layer, int Expert, int Source, int Destination);

    /// <summary>Every transfer, ordered by layer, destination and expert.</summary>
    public static List<Transfer> Plan(ExpertPlacement from, ExpertPlacement to)
    {
        if (from.Ranks != to.Ranks || from.Layers != to.Layers || from.LogicalExperts != to.LogicalExperts)
            throw new InvalidArgumentException(
                $"placements differ in shape: {from.Layers}×{from.LogicalExperts} on {from.Ranks} ranks vs {to.Layers}×{to.LogicalExperts} on {to.Ranks}");
        var transfers = new List<Transfer>();
        for (int l = 0; l < from.Layers; l++)
        {
            var held = Enumerable.Range(0, from.Ranks).Select(r => from.ExpertsOnRank(l, r).ToHashSet()).ToArray();
            for (int d = 0; d < to.Ranks; d++)
                foreach (int e in to.ExpertsOnRank(l, d).Where(e => !held[d].Contains(e)))
                    transfers.Add(new Transfer(l, e, Array.FindIndex(held, h => h.Contains(e)), d));
        }
        return transfers;
    }

    /// <param name="layers">The MoE layers in placement row order.</param>
    /// <returns>The transfers made (the same list on every rank) and the bytes they carried in all.</returns>
    public static (IReadOnlyList<Transfer> Transfers, long Bytes) Move(ICommunicator group, ExpertPlacement from, ExpertPlacement to,
        IReadOnlyList<MixtureOfExperts> layers, ModelConfig config)
    {
        using var noGrad = no_grad();
        var transfers = Plan(from, to);
        int me = group.Rank;
        long size = 3L * config.HiddenSize * config.MoeIntermediateSize;                   // floats per expert
        var outgoing = Enumerable.Range(0, group.Size).SelectMany(d => transfers.Where(t => t.Source == me && t.Destination == d)).ToList();
        var incoming = Enumerable.Range(0, group.Size).SelectMany(s => transfers.Where(t => t.Source == s && t.Destination == me)).ToList();
        int[] sendCounts = Enumerable.Range(0, group.Size).Select(d => checked((int)(size * outgoing.Count(t => t.Destination == d)))).ToArray();
        int[] receiveCounts = Enumerable.Range(0, group.Size).Select(s => checked((int)(size * incoming.Count(t => t.Source == s)))).ToArray();
        var arrived = incoming.ToDictionary(t => (t.Layer, t.Expert), t => NewExpert(config, AnyExpertWeight(layers[t.Layer])));

        using (var scope = NewDisposeScope())
        {
            var send = outgoing.Count == 0
                ? empty(0, ScalarType.Float32)
                : cat(outgoing.Select(t => Flatten(layers[t.Layer].Expert(t.Expert))).ToArray(), 0);  // [Σ sendCounts]
            var receive = empty(incoming.Count * size, ScalarType.Float32);
            group.AllToAllV<float>(MemoryMarshal.Cast<byte, float>(send.bytes), sendCounts,
                                   MemoryMarshal.Cast<byte, float>(receive.bytes), receiveCounts);
            for (int i = 0; i < incoming.Count; i++)
                Fill(arrived[(incoming[i].Layer, incoming[i].Expert)], receive.narrow(0, i * size, size));
        }
        for (int l = 0; l < layers.Count; l++)
        {
            var moe = layers[l];
            moe.HoldExperts(to.ExpertsOnRank(l, me).Select(e => (e, arrived.TryGetValue((l, e), out var mlp) ? mlp : moe.Expert(e))));
        }
        return (transfers, transfers.Count * size * sizeof(float));
    }

    /// <summary>[3·hidden·moe_intermediate] fp32: gate_proj, up_proj, down_proj weights, each row-major.</summary>
    private static Tensor Flatten(SwiGluMlp expert) =>
        cat([expert.GateProj.Weight.reshape(-1), expert.UpProj.Weight.reshape(-1), expert.DownProj.Weight.reshape(-1)], 0)
            .to(ScalarType.Float32);

    /// <summary>An expert in the model's dtype and on its device (those of <paramref name="like"/>, a weight of the
    /// same layer), weights to be filled. The caller owns it.</summary>
    private static SwiGluMlp NewExpert(ModelConfig config, Tensor like)
    {
        var expert = new SwiGluMlp(config.HiddenSize, config.MoeIntermediateSize);
        expert.to(like.device, like.dtype);
        expert.eval();
        // A re-plan runs between decode steps, inside the step's dispose scope; the expert outlives it.
        foreach (var parameter in expert.parameters()) parameter.DetachFromDisposeScope();
        return expert;
    }

    private static Tensor AnyExpertWeight(MixtureOfExperts moe) => moe.Expert(moe.HeldExperts.First()).GateProj.Weight;

    /// <summary>Copies <see cref="Flatten"/>'s layout back into <paramref name="expert"/>.</summary>
    private static void Fill(SwiGluMlp expert, Tensor flat)
    {
        long offset = 0;
        foreach (var weight in new[] { expert.GateProj.Weight, expert.UpProj.Weight, expert.DownProj.Weight })
        {
            weight.copy_(flat.narrow(0, offset, weight.numel()).view(weight.shape));
            offset += weight.numel();
        }
    }
}
