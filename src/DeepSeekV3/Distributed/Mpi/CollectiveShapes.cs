namespace DeepSeekV3.Distributed.Mpi;

/// <summary>
/// Checks of the counts and buffer lengths of a collective before MPI sees them: MPI would read or write past a
/// buffer instead of complaining. Counts are in elements; MPI's are C ints, so totals beyond int.MaxValue are refused.
/// </summary>
internal static class CollectiveShapes
{
    /// <summary>The running sums of <paramref name="counts"/> (one per rank) and their total.</summary>
    public static (int[] Displacements, int Total) Displacements(ReadOnlySpan<int> counts, int size, string call, string what)
    {
        if (counts.Length != size)
            throw new ArgumentException($"{call}: {counts.Length} {what} for a group of {size} ranks");
        var displacements = new int[size];
        long total = 0;
        for (int r = 0; r < size; r++)
        {
            if (counts[r] < 0) throw new ArgumentException($"{call}: {what}[{r}] = {counts[r]} is negative");
            if (total > int.MaxValue)
                throw new MpiException(call, $"the {what} add up to more than {int.MaxValue} elements, MPI's int limit");
            displacements[r] = (int)total;
            total += counts[r];
        }
        if (total > int.MaxValue)
            throw new MpiException(call, $"the {what} add up to {total} elements, beyond MPI's int limit {int.MaxValue}");
        return (displacements, (int)total);
    }

    /// <summary>The send and receive displacements of an all-to-all-v, after checking both buffers are long enough.</summary>
    public static (int[] Send, int[] Receive) AllToAllVDisplacements(ReadOnlySpan<int> sendCounts, long sendLength,
        ReadOnlySpan<int> receiveCounts, long receiveLength, int size, string call)
    {
        var (send, sendTotal) = Displacements(sendCounts, size, call, "send counts");
        var (receive, receiveTotal) = Displacements(receiveCounts, size, call, "receive counts");
        AtLeast(sendLength, sendTotal, call, "send");
        AtLeast(receiveLength, receiveTotal, call, "receive");
        return (send, receive);
    }

    public static void AtLeast(long length, long needed, string call, string buffer)
    {
        if (length < needed)
            throw new ArgumentException($"{call}: the {buffer} buffer holds {length} elements, {needed} are needed");
    }

    public static void Exactly(long length, long expected, string call, string buffer)
    {
        if (length != expected)
            throw new ArgumentException($"{call}: the {buffer} buffer holds {length} elements, expected {expected}");
    }

    /// <summary>An element count MPI can take in one call.</summary>
    public static int Count(long length, string call)
    {
        if (length > int.MaxValue)
            throw new MpiException(call, $"{length} elements in one message: beyond MPI's int count; split the buffer");
        return (int)length;
    }

    public static void Rank(int rank, int size, string call)
    {
        if (rank < 0 || rank >= size) throw new ArgumentOutOfRangeException(nameof(rank), $"{call}: rank {rank} outside a group of {size}");
    }
}
