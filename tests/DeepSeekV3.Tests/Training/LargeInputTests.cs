using System.Diagnostics;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Training.Data;

namespace DeepSeekV3.Tests.Training;

/// <summary>
/// A large single-document input. Serial: its few hundred MB of short-lived arrays force garbage collections, and
/// a collection during a TorchSharp call in a parallel test can finalize the implicit Scalar that call is still
/// using (dotnet/TorchSharp#1434); this test makes that rarer by running alone (it does not cure it).
/// </summary>
[Collection(SerialCollection.Name)]
public class LargeInputTests
{
    /// <summary>One 50 MB line (no newline) with the byte tokenizer (the BPE tokenizer takes about 1 s of CPU per MB):
    /// tokenized, packed and split with a validation tail in seconds.</summary>
    [Fact]
    public void A_50_MB_single_line_is_tokenized_packed_and_split_in_seconds()
    {
        using var dir = new TempDirectory();
        const int size = 50_000_000;
        var pattern = "experts route every token to the top k of the scored experts; "u8;
        var text = new byte[size];
        for (int i = 0; i < size; i += pattern.Length)
            pattern[..Math.Min(pattern.Length, size - i)].CopyTo(text.AsSpan(i));
        File.WriteAllBytes(dir.File("big.txt"), text);
        text = null;

        var clock = Stopwatch.StartNew();
        var encoder = new ByteTokenEncoder();
        using var shards = TokenShardSet.Open([dir.File("big.txt")], encoder, dir.File("cache"), null, out _);
        var data = PackedDataset.Build(shards, encoder, new DataOptions { SequenceLength = 16 });
        var cursor = new DataCursor(data, seed: 0);
        cursor.Next(4);

        Assert.Equal(1, shards.Count);
        Assert.Equal(size, shards.TotalTokens);
        Assert.True(data.ValidationFromTail);
        Assert.Equal(Math.Ceiling(0.02 * (data.TrainTokens + data.ValidationTokens)), data.ValidationTokens);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }
}
