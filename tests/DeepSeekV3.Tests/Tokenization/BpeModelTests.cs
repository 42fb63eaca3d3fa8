using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

public class BpeModelTests
{
    [Fact]
    public void Heap_merge_and_scan_merge_agree_on_random_pieces()
    {
        // The two merge loops (scan for short pieces, heap for long ones) must pick the same merges in the same order.
        var model = TokenizerTestFiles.DeepSeekV3.Model;
        var random = new Random(42);
        string alphabet = "aaabbbeeetthhinnorsss  ..,,\n中文你好🍕1";
        for (int trial = 0; trial < 300; trial++)
        {
            string text = new([.. Enumerable.Range(0, random.Next(2, 120)).Select(_ => alphabet[random.Next(alphabet.Length)])]);
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text.Replace("\uD83C", "").Replace("\uDF55", ""));
            int[] initial = [.. bytes.Select(b => model.Vocab[ByteLevelAlphabet.Encode(b).ToString()])];
            int[] scan = (int[])initial.Clone(), heap = (int[])initial.Clone();
            int n1 = model.MergeByScan(scan, scan.Length, out _), n2 = model.MergeByHeap(heap, heap.Length, out _);
            Assert.Equal(scan[..n1], heap[..n2]);
        }
    }

    [Fact]
    public void Byte_level_alphabet_maps_space_to_G_dot_and_round_trips_all_bytes()
    {
        Assert.Equal('Ġ', ByteLevelAlphabet.Encode((byte)' '));
        Assert.Equal('Ċ', ByteLevelAlphabet.Encode((byte)'\n'));
        byte[] all = [.. Enumerable.Range(0, 256).Select(b => (byte)b)];
        Assert.Equal(all, ByteLevelAlphabet.TryDecode(ByteLevelAlphabet.Encode(all)));
    }
}
