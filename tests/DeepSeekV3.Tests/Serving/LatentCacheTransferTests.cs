using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Serving;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Serving;

/// <summary>The prefill → decode wire format: a frame reads back exactly what was written, and a truncated, padded,
/// foreign or future frame is refused with a <see cref="LatentCacheTransferException"/> saying what is wrong.</summary>
public class LatentCacheTransferTests
{
    private static readonly string Identity = new('a', 64);

    private static PrefilledRequest Sample(bool finished = false)
    {
        const int layers = 2, tokens = 3, width = 5;
        var rows = finished ? [] : Enumerable.Range(0, layers * tokens * width * 2).Select(i => (byte)(i * 7)).ToArray();
        return new PrefilledRequest(Identity, ScalarType.BFloat16, layers, width, tokens, FirstToken: 42,
            new TokenLogprobs(new TokenLogprob(42, -0.25f), [new TokenLogprob(42, -0.25f), new TokenLogprob(7, -2.5f)]),
            SamplerState: 0xDEADBEEF12345678UL, finished, rows);
    }

    [Fact]
    public void A_frame_reads_back_what_was_written()
    {
        foreach (bool finished in new[] { false, true })
        {
            var sent = Sample(finished);
            byte[] frame = LatentCacheTransfer.Encode(sent);
            var received = LatentCacheTransfer.Decode(frame, Identity);
            Assert.Equal(sent with { Rows = [], FirstLogprobs = null }, received with { Rows = [], FirstLogprobs = null });
            Assert.Equal(sent.Rows, received.Rows);
            Assert.Equal(sent.FirstLogprobs!.Chosen, received.FirstLogprobs!.Chosen);
            Assert.Equal(sent.FirstLogprobs.Top, received.FirstLogprobs.Top);
        }
        // Header 8 + 2 + 32 + 1 + 3·4 + 1 + 8 + 8, logprobs 12 + 4 + 2·12, length 8, then 2 layers × 3 tokens × 5 × 2 bytes.
        Assert.Equal(72 + 40 + 8 + 60, LatentCacheTransfer.Encode(Sample()).Length);
    }

    [Fact]
    public void An_mtp_draft_travels_with_the_rows()
    {
        var sent = Sample() with { Draft = new MtpDraft(3, [0.25f, 0f, 0.5f, 0.25f]) };
        byte[] frame = LatentCacheTransfer.Encode(sent);
        Assert.Equal(72 + 40 + (8 + 4 + 4 * 4) + 8 + 60, frame.Length);   // draft token, vocab, 4 floats
        var received = LatentCacheTransfer.Decode(frame, Identity);
        Assert.Equal(3, received.Draft!.Token);
        Assert.Equal(sent.Draft!.Distribution, received.Draft.Distribution);
        Assert.Equal(sent.Rows, received.Rows);
        Assert.Null(LatentCacheTransfer.Decode(LatentCacheTransfer.Encode(Sample()), Identity).Draft);
    }

    [Fact]
    public void Truncated_padded_foreign_and_future_frames_are_refused()
    {
        byte[] frame = LatentCacheTransfer.Encode(Sample());
        var truncated = Assert.Throws<LatentCacheTransferException>(() => LatentCacheTransfer.Decode(frame.AsSpan(0, frame.Length - 1), Identity));
        Assert.Contains("truncated", truncated.Message);
        Assert.Contains("after the rows", Assert.Throws<LatentCacheTransferException>(() =>
            LatentCacheTransfer.Decode([.. frame, 0], Identity)).Message);
        var foreign = Assert.Throws<LatentCacheTransferException>(() => LatentCacheTransfer.Decode(frame, new string('b', 64)));
        Assert.True(foreign.ModelMismatch);
        foreach (byte version in new byte[] { 1, 3 })                   // version 1 (before MTP drafts) and a future one
        {
            byte[] other = [.. frame];
            other[8] = version;
            Assert.Contains($"frame version {version}; this build reads version 2",
                Assert.Throws<LatentCacheTransferException>(() => LatentCacheTransfer.Decode(other, Identity)).Message);
        }
        Assert.Contains("not a latent-cache frame", Assert.Throws<LatentCacheTransferException>(() =>
            LatentCacheTransfer.Decode("{\"error\":1}"u8, Identity)).Message);
        byte[] lying = [.. frame];
        lying[8 + 2 + 32 + 1 + 8] = 4;                                   // prompt tokens 4, rows for 3
        Assert.Contains("promises", Assert.Throws<LatentCacheTransferException>(() => LatentCacheTransfer.Decode(lying, Identity)).Message);
    }
}
