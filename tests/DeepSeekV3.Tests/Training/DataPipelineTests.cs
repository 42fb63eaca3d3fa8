using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Training.Data;

namespace DeepSeekV3.Tests.Training;

public class DataPipelineTests
{
    private static readonly ByteTokenEncoder Bytes = new();

    private static List<int[]> Documents(int count, int length) =>
        Enumerable.Range(0, count).Select(d => Enumerable.Range(0, length + d % 5).Select(i => (d * 7 + i) % 200).ToArray()).ToList();

    [Fact]
    public void Packing_puts_eos_after_every_document_and_windows_overlap_by_exactly_one_token()
    {
        var docs = new List<int[]> { new[] { 1, 2, 3 }, new[] { 4, 5 }, new[] { 6, 7, 8, 9 } };
        var data = PackedDataset.Build(new InMemoryDocuments(docs), Bytes, new DataOptions { SequenceLength = 4, FimRate = 0, ValidationFraction = 0 });
        // Stream: 1 2 3 E 4 5 E 6 7 8 9 E (12 tokens) → (12 − 1) / 4 = 2 windows of 5.
        int e = Bytes.EosId;
        Assert.Equal(2, data.TrainWindows);
        Assert.Equal(new[] { 1, 2, 3, e, 4 }, data.Window(0, false).ToArray());
        Assert.Equal(new[] { 4, 5, e, 6, 7 }, data.Window(1, false).ToArray());
    }

    [Fact]
    public void Fim_rearranges_a_document_into_psm_form_and_keeps_every_token()
    {
        var fim = FillInTheMiddle.For(Bytes, rate: 1.0, seed: 3);
        var doc = Enumerable.Range(10, 40).ToArray();
        for (long d = 0; d < 20; d++)
        {
            var result = fim.Apply(doc, d, []).ToArray();
            Assert.Equal(doc.Length + 3, result.Length);
            int hole = Array.IndexOf(result, Bytes.FimHoleId), end = Array.IndexOf(result, Bytes.FimEndId);
            Assert.Equal(Bytes.FimBeginId, result[0]);
            Assert.True(hole > 0 && end > hole);
            var prefix = result[1..hole];
            var suffix = result[(hole + 1)..end];
            var middle = result[(end + 1)..];
            Assert.Equal(doc, prefix.Concat(middle).Concat(suffix).ToArray());      // PSM reassembles the document
        }
    }

    [Fact]
    public void Fim_rate_is_respected_and_the_choice_is_deterministic()
    {
        var fim = FillInTheMiddle.For(Bytes, rate: 0.1, seed: 11);
        var doc = Enumerable.Range(0, 30).ToArray();
        int transformed = Enumerable.Range(0, 2000).Count(d => fim.Apply(doc, d, []).Length != doc.Length);
        Assert.InRange(transformed, 150, 250);                                       // 10% of 2000 ± sampling noise
        Assert.Equal(fim.Apply(doc, 5, []).ToArray(), fim.Apply(doc, 5, []).ToArray());
    }

    [Fact]
    public void Validation_documents_never_enter_the_training_stream()
    {
        var docs = Enumerable.Range(0, 100).Select(d => new[] { d, d, d }).ToList();   // each document marked by its id
        var data = PackedDataset.Build(new InMemoryDocuments(docs), Bytes, new DataOptions { SequenceLength = 3, FimRate = 0, ValidationFraction = 0.2, Seed = 1 });
        var train = Enumerable.Range(0, (int)data.TrainWindows).SelectMany(i => data.Window(i, false).ToArray()).ToHashSet();
        var validation = Enumerable.Range(0, (int)data.ValidationWindows).SelectMany(i => data.Window(i, true).ToArray()).ToHashSet();
        train.Remove(Bytes.EosId);
        validation.Remove(Bytes.EosId);
        Assert.NotEmpty(validation);
        Assert.Empty(train.Intersect(validation));
        Assert.InRange(data.ValidationDocuments, 8, 35);
    }

    [Fact]
    public void A_single_document_holds_out_the_tail_of_its_stream_for_validation()
    {
        var doc = Enumerable.Range(0, 1000).Select(i => i % 250).ToArray();
        var data = PackedDataset.Build(new InMemoryDocuments([doc]), Bytes, new DataOptions { SequenceLength = 8, FimRate = 0, ValidationFraction = 0.1 });
        // Stream: 1000 tokens + EOS = 1001; tail ⌈0.1 · 1001⌉ = 101 tokens from position 900; train keeps 900.
        Assert.True(data.ValidationFromTail);
        Assert.Equal(0, data.ValidationDocuments);
        Assert.Equal(900, data.TrainTokens);
        Assert.Equal((900 - 1) / 8, data.TrainWindows);
        Assert.Equal((101 - 1) / 8, data.ValidationWindows);
        Assert.Equal(doc[900..909], data.Window(0, validation: true).ToArray());
        var lastTrain = data.Window(data.TrainWindows - 1, validation: false).ToArray();
        Assert.Equal(doc[(int)((data.TrainWindows - 1) * 8)..(int)(data.TrainWindows * 8 + 1)], lastTrain);  // ends before 900
    }

    [Fact]
    public void A_document_too_short_to_spare_a_validation_window_trains_without_one()
    {
        // 13 tokens with EOS: one window of 9 for training, but then only 4 left, not a second window for validation.
        var doc = Enumerable.Range(0, 12).ToArray();
        var data = PackedDataset.Build(new InMemoryDocuments([doc]), Bytes, new DataOptions { SequenceLength = 8, FimRate = 0, ValidationFraction = 0.1 });
        Assert.False(data.ValidationFromTail);
        Assert.Equal(0, data.ValidationWindows);
        Assert.Equal(1, data.TrainWindows);
    }

    [Fact]
    public void Shuffle_is_a_seeded_permutation_of_every_window_per_epoch()
    {
        var data = PackedDataset.Build(new InMemoryDocuments(Documents(30, 20)), Bytes, new DataOptions { SequenceLength = 8, ValidationFraction = 0 });
        var a = new DataCursor(data, seed: 5);
        var b = new DataCursor(data, seed: 5);
        var epoch = a.Next((int)data.TrainWindows);
        Assert.Equal(Enumerable.Range(0, (int)data.TrainWindows).Select(i => (long)i), epoch.Order());
        Assert.Equal(epoch, b.Next((int)data.TrainWindows));
        Assert.NotEqual(epoch, a.Next((int)data.TrainWindows));                       // next epoch, new order
        Assert.Equal(1, a.Epoch);
        var resumed = new DataCursor(data, seed: 5, epoch: 1, position: 0);
        Assert.Equal(new DataCursor(data, 5, 1, 0).Next(4), resumed.Next(4));
    }

    [Fact]
    public void Token_shards_are_built_once_and_reused()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("a.txt"), "hello world");
        File.WriteAllLines(dir.File("b.jsonl"), ["{\"text\": \"first\"}", "", "{\"text\": \"中文\"}"]);
        string cache = dir.File("cache");
        var reports = new List<TokenizationProgress>();
        using (var shards = TokenShardSet.Open([dir.File("a.txt"), dir.File("b.jsonl")], Bytes, cache, new SyncProgress(reports), out bool reused))
        {
            Assert.False(reused);
            Assert.Equal(3, shards.Count);
            Assert.Equal("hello world"u8.ToArray().Select(b => (int)b), shards.Document(0).ToArray());
            Assert.Equal("中文"u8.ToArray().Select(b => (int)b), shards.Document(2).ToArray());
            Assert.Equal(11 + 5 + 6, shards.TotalTokens);
        }
        Assert.NotEmpty(reports);
        using (var again = TokenShardSet.Open([dir.File("a.txt"), dir.File("b.jsonl")], Bytes, cache, null, out bool reused))
        {
            Assert.True(reused);
            Assert.Equal(3, again.Count);
        }
    }

    private sealed class SyncProgress(List<TokenizationProgress> sink) : IProgress<TokenizationProgress>
    {
        public void Report(TokenizationProgress value) => sink.Add(value);
    }
}
