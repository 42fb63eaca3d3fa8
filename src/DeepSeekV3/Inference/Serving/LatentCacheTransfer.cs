using System.Buffers.Binary;
using System.Text;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// The wire format of a <see cref="PrefilledRequest"/> between a prefill process and a decode process
/// (media type <see cref="MediaType"/>), little-endian:
/// <code>
/// "DSV3LKV\0"  magic, 8 bytes          u16 version (2)          32 bytes model identity (SHA-256)
/// u8 dtype (1 float32, 2 bfloat16, 3 float16)   i32 layers   i32 row width (kv_lora_rank + qk_rope_head_dim)
/// i32 prompt tokens   u8 flags (1 finished at the first token, 2 first-token logprobs follow, 4 an MTP draft follows)
/// i64 first token   u64 sampler state
/// [logprobs: i64 token, f32 logprob, i32 top count, top count × (i64 token, f32 logprob)]
/// [MTP draft: i64 draft token, i32 vocab, vocab × f32 distribution]   (layers then count the MTP module's cache layer)
/// i64 row bytes = layers × row tokens × row width × dtype size (row tokens: prompt tokens, 0 when finished)
/// the rows, [layers, row tokens, row width], layer-major
/// </code>
/// Reading checks every length against what the header promises, so a truncated or padded body, another version or
/// another model is a <see cref="LatentCacheTransferException"/> naming what differs. Version 2 added the MTP draft
/// (speculative decoding across the split); version 1 frames are refused, as any other version.
/// </summary>
public static class LatentCacheTransfer
{
    public const string MediaType = "application/x-dsv3-latent-cache";
    public const ushort Version = 2;
    private static ReadOnlySpan<byte> Magic => "DSV3LKV\0"u8;
    private const int IdentityBytes = 32;
    private const byte FinishedFlag = 1, LogprobsFlag = 2, DraftFlag = 4;

    public static byte[] Encode(PrefilledRequest prefilled)
    {
        using var buffer = new MemoryStream(prefilled.Rows.Length + 128);
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Convert.FromHexString(prefilled.ModelIdentity));
            w.Write(DtypeCode(prefilled.Dtype));
            w.Write(prefilled.Layers);
            w.Write(prefilled.RowWidth);
            w.Write(prefilled.PromptTokens);
            w.Write((byte)((prefilled.Finished ? FinishedFlag : 0) | (prefilled.FirstLogprobs is null ? 0 : LogprobsFlag) |
                           (prefilled.Draft is null ? 0 : DraftFlag)));
            w.Write(prefilled.FirstToken);
            w.Write(prefilled.SamplerState);
            if (prefilled.FirstLogprobs is { } logprobs)
            {
                Write(w, logprobs.Chosen);
                w.Write(logprobs.Top.Count);
                foreach (var top in logprobs.Top) Write(w, top);
            }
            if (prefilled.Draft is { } draft)
            {
                w.Write(draft.Token);
                w.Write(draft.Distribution.Length);
                foreach (float p in draft.Distribution) w.Write(p);
            }
            w.Write((long)prefilled.Rows.Length);
            w.Write(prefilled.Rows);
        }
        return buffer.ToArray();
    }

    /// <summary>Reads a frame made by a model whose identity is <paramref name="expectedIdentity"/>.</summary>
    public static PrefilledRequest Decode(ReadOnlySpan<byte> frame, string expectedIdentity)
    {
        var r = new FrameReader(frame);
        if (!r.Take(Magic.Length).SequenceEqual(Magic))
            throw new LatentCacheTransferException("not a latent-cache frame (its first bytes are not \"DSV3LKV\")");
        ushort version = r.U16();
        if (version != Version)
            throw new LatentCacheTransferException($"frame version {version}; this build reads version {Version} (update both sides together)");
        string identity = Convert.ToHexStringLower(r.Take(IdentityBytes));
        if (identity != expectedIdentity)
            throw new LatentCacheTransferException($"the prefill side's model ({identity[..12]}…) is not this model ({expectedIdentity[..12]}…): " +
                                                   "both sides must serve the same checkpoint", modelMismatch: true);
        var dtype = Dtype(r.U8());
        int layers = r.I32(), width = r.I32(), prompt = r.I32();
        if (layers < 1 || width < 1 || prompt < 1)
            throw new LatentCacheTransferException($"layers {layers}, row width {width}, prompt tokens {prompt}: each must be >= 1");
        byte flags = r.U8();
        long firstToken = r.I64();
        ulong state = r.U64();
        TokenLogprobs? logprobs = null;
        if ((flags & LogprobsFlag) != 0)
        {
            var chosen = r.Logprob();
            int count = r.I32();
            if (count is < 0 or > SamplingParams.MaxTopLogprobs)
                throw new LatentCacheTransferException($"{count} top log-probabilities; at most {SamplingParams.MaxTopLogprobs}");
            var top = new TokenLogprob[count];
            for (int i = 0; i < count; i++) top[i] = r.Logprob();
            logprobs = new TokenLogprobs(chosen, top);
        }
        MtpDraft? draft = null;
        if ((flags & DraftFlag) != 0)
        {
            long token = r.I64();
            int vocab = r.I32();
            if (vocab < 1 || (long)vocab * sizeof(float) > r.Remaining)
                throw new LatentCacheTransferException($"an MTP draft distribution of {vocab} entries; the frame has {r.Remaining} bytes left");
            var distribution = new float[vocab];
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(r.Take(vocab * sizeof(float))).CopyTo(distribution);
            draft = new MtpDraft(token, distribution);
        }
        bool finished = (flags & FinishedFlag) != 0;
        long expected = (long)layers * (finished ? 0 : prompt) * width * PrefilledRequest.ElementSize(dtype);
        long rowBytes = r.I64();
        if (rowBytes != expected)
            throw new LatentCacheTransferException($"the header promises {rowBytes} bytes of rows; {layers} layers × " +
                                                   $"{(finished ? 0 : prompt)} tokens × {width} × {dtype} make {expected}");
        if (rowBytes > Array.MaxLength)
            throw new LatentCacheTransferException($"{rowBytes} bytes of rows: more than one frame may carry");
        byte[] rows = r.Take((int)rowBytes).ToArray();
        if (r.Remaining != 0)
            throw new LatentCacheTransferException($"{r.Remaining} bytes after the rows");
        return new PrefilledRequest(identity, dtype, layers, width, prompt, firstToken, logprobs, state, finished, rows, draft);
    }

    private static void Write(BinaryWriter w, TokenLogprob logprob)
    {
        w.Write(logprob.Token);
        w.Write(logprob.Logprob);
    }

    private static byte DtypeCode(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 1,
        ScalarType.BFloat16 => 2,
        ScalarType.Float16 => 3,
        _ => throw new InvalidArgumentException($"a latent cache in {dtype} cannot be transferred"),
    };

    private static ScalarType Dtype(byte code) => code switch
    {
        1 => ScalarType.Float32,
        2 => ScalarType.BFloat16,
        3 => ScalarType.Float16,
        _ => throw new LatentCacheTransferException($"unknown dtype code {code} (1 float32, 2 bfloat16, 3 float16)"),
    };

    /// <summary>A cursor over the frame; running past its end is the truncation error.</summary>
    private ref struct FrameReader(ReadOnlySpan<byte> frame)
    {
        private readonly ReadOnlySpan<byte> _frame = frame;
        private int _at;

        public readonly int Remaining => _frame.Length - _at;

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count > Remaining)
                throw new LatentCacheTransferException($"truncated: the frame ends after {_frame.Length} bytes, {count - Remaining} " +
                                                       $"short of the {count} bytes at offset {_at}");
            var span = _frame.Slice(_at, count);
            _at += count;
            return span;
        }

        public byte U8() => Take(1)[0];
        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));
        public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        public TokenLogprob Logprob() => new(I64(), BinaryPrimitives.ReadSingleLittleEndian(Take(4)));
    }
}
