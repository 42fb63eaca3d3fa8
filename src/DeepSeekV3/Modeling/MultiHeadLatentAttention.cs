using DeepSeekV3.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Multi-head Latent Attention (report §2.1.1, eqs. 1-11). Keys and values are compressed jointly into a
/// kv_lora_rank latent c_kv; queries optionally into a q_lora_rank latent; a single RoPE key of qk_rope_head_dim is
/// shared by all heads (decoupled RoPE). Checkpoint names: q_a_proj, q_a_layernorm, q_b_proj (or q_proj without
/// query compression), kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj.
/// </summary>
public sealed class MultiHeadLatentAttention : nn.Module
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    private readonly int _layer;
    private readonly int _heads, _nopeDim, _ropeDim, _vDim, _kvLoraRank;
    private readonly YarnRotaryEmbedding _rope;

    public MultiHeadLatentAttention(ModelConfig config, int layer, YarnRotaryEmbedding rope) : base(nameof(MultiHeadLatentAttention))
    {
        _layer = layer;
        _rope = rope;
        _heads = config.NumAttentionHeads;
        _nopeDim = config.QkNopeHeadDim;
        _ropeDim = config.QkRopeHeadDim;
        _vDim = config.VHeadDim;
        _kvLoraRank = config.KvLoraRank;
        long d = config.HiddenSize;

        if (config.HasQueryCompression)
        {
            int rank = config.QLoraRank!.Value;
            QAProj = new Projection(d, rank);
            QALayerNorm = new RmsNorm(rank, config.RmsNormEps);
            QBProj = new Projection(rank, (long)_heads * config.QkHeadDim);
            register_module("q_a_proj", QAProj);
            register_module("q_a_layernorm", QALayerNorm);
            register_module("q_b_proj", QBProj);
        }
        else
        {
            QProj = new Projection(d, (long)_heads * config.QkHeadDim);
            register_module("q_proj", QProj);
        }
        KvAProjWithMqa = new Projection(d, _kvLoraRank + _ropeDim);
        KvALayerNorm = new RmsNorm(_kvLoraRank, config.RmsNormEps);
        KvBProj = new Projection(_kvLoraRank, (long)_heads * (_nopeDim + _vDim));
        OProj = new Projection((long)_heads * _vDim, d);
        register_module("kv_a_proj_with_mqa", KvAProjWithMqa);
        register_module("kv_a_layernorm", KvALayerNorm);
        register_module("kv_b_proj", KvBProj);
        register_module("o_proj", OProj);
    }

    public Projection? QAProj { get; }
    public RmsNorm? QALayerNorm { get; }
    public Projection? QBProj { get; }
    public Projection? QProj { get; }
    public Projection KvAProjWithMqa { get; }
    public RmsNorm KvALayerNorm { get; }
    public Projection KvBProj { get; }
    public Projection OProj { get; }

    /// <summary>The dtype of the attention products in training's naive evaluation (bfloat16 under mixed precision,
    /// with the softmax in float32); null: the input's.</summary>
    internal ScalarType? CoreDtype { get; set; }

    /// <summary>x: [batch, seq, hidden] (already normalized) → [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor x, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], seq = x.shape[1];

        // Eqs. (6)-(8): queries, split into the no-RoPE part and the decoupled RoPE part.
        var q = QProj is not null ? QProj.forward(x) : QBProj!.forward(QALayerNorm!.forward(QAProj!.forward(x)));
        q = q.view(batch, seq, _heads, _nopeDim + _ropeDim);                               // [b, s, h, d_qk]
        var qNope = q.narrow(-1, 0, _nopeDim);                                            // [b, s, h, d_n]
        var qPe = q.narrow(-1, _nopeDim, _ropeDim);                                       // [b, s, h, d_r]

        // Eqs. (1), (3): the KV latent c_kv and the shared RoPE key k_pe from one projection.
        var kv = KvAProjWithMqa.forward(x);                                               // [b, s, r_kv + d_r]
        var latent = KvALayerNorm.forward(kv.narrow(-1, 0, _kvLoraRank));                // [b, s, r_kv]
        var kPe = kv.narrow(-1, _kvLoraRank, _ropeDim).unsqueeze(2);                      // [b, s, 1, d_r]

        var positions = context.Positions(_layer, seq, x.device);                         // [b or 1, s]
        var (cos, sin) = _rope.Angles(positions);
        qPe = YarnRotaryEmbedding.Apply(qPe, cos, sin);
        kPe = YarnRotaryEmbedding.Apply(kPe, cos, sin).squeeze(2);                         // [b, s, d_r]

        var keyPositions = positions;                                                      // [b or 1, t]
        if (context.Cache is { } cache)
            (latent, kPe, keyPositions) = cache.Append(_layer, latent, kPe);     // [b, t, ·], t = past + s
        var mask = CausalMask(positions, keyPositions, x.dtype);                           // [b or 1, 1, s, t]
        if (context.Segments is { } segments)                                              // packed documents
            mask = mask + DocumentMask(segments.to(x.device), x.dtype);                    // [b, 1, s, s]

        var output = context.Mode == AttentionMode.Naive
            ? AttendNaive(qNope, qPe, latent, kPe, mask)
            : AttendAbsorbed(qNope, qPe, latent, kPe, mask);                               // [b, s, h, d_v]
        return OProj.forward(output.reshape(batch, seq, _heads * _vDim)).MoveToOuterDisposeScope();
    }

    /// <summary>Up-projects the latent to per-head keys and values (eqs. 2, 4, 5), then eqs. (9)-(11).</summary>
    private Tensor AttendNaive(Tensor qNope, Tensor qPe, Tensor latent, Tensor kPe, Tensor mask)
    {
        long batch = latent.shape[0], tokens = latent.shape[1];
        var kv = KvBProj.forward(latent).view(batch, tokens, _heads, _nopeDim + _vDim);    // [b, t, h, d_n + d_v]
        var kNope = kv.narrow(-1, 0, _nopeDim);
        var value = kv.narrow(-1, _nopeDim, _vDim);                                         // [b, t, h, d_v]
        var key = cat([kNope, kPe.unsqueeze(2).expand(batch, tokens, _heads, _ropeDim)], -1);  // [b, t, h, d_qk]
        var query = cat([qNope, qPe], -1);                                                  // [b, s, h, d_qk]
        var dtype = query.dtype;
        if (CoreDtype is { } core)
            (query, key, value, mask) = (query.to_type(core), key.to_type(core), value.to_type(core), mask.to_type(core));
        var scores = einsum("bshd,bthd->bhst", query, key) * _rope.SoftmaxScale + mask;    // [b, h, s, t]
        var probabilities = scores.softmax(-1, ScalarType.Float32).to(value.dtype);
        return einsum("bhst,bthd->bshd", probabilities, value).to_type(dtype);             // [b, s, h, d_v]
    }

    /// <summary>
    /// Matrix absorption: W_UK folds into the query and W_UV into the output, so attention runs over the latent
    /// itself and the cache never holds per-head keys or values (<c>attn_impl = "absorb"</c> in DeepSeek's inference/model.py).
    /// </summary>
    private Tensor AttendAbsorbed(Tensor qNope, Tensor qPe, Tensor latent, Tensor kPe, Tensor mask)
    {
        var w = KvBProj.Weight.view(_heads, _nopeDim + _vDim, _kvLoraRank);              // [h, d_n + d_v, r_kv]
        var wUK = w.narrow(1, 0, _nopeDim);                                                 // [h, d_n, r_kv]
        var wUV = w.narrow(1, _nopeDim, _vDim);                                             // [h, d_v, r_kv]
        var qLatent = einsum("bshd,hdc->bshc", qNope, wUK);                                 // [b, s, h, r_kv]
        var scores = (einsum("bshc,btc->bhst", qLatent, latent)
                      + einsum("bshr,btr->bhst", qPe, kPe)) * _rope.SoftmaxScale + mask;    // [b, h, s, t]
        var probabilities = scores.softmax(-1, ScalarType.Float32).to(latent.dtype);
        var outLatent = einsum("bhst,btc->bshc", probabilities, latent);                    // [b, s, h, r_kv]
        return einsum("bshc,hdc->bshd", outLatent, wUV);                                    // [b, s, h, d_v]
    }

    /// <summary>0 where query and key belong to the same document, −inf elsewhere: [b, 1, s, s].</summary>
    private static Tensor DocumentMask(Tensor segments, ScalarType dtype)
    {
        var other = segments.unsqueeze(-1).ne(segments.unsqueeze(1)).unsqueeze(1);         // [b, 1, s, s]
        return zeros(other.shape, dtype, segments.device).masked_fill(other, Scalars.NegativeInfinity);
    }

    /// <summary>0 where key position ≤ query position, −inf elsewhere (future and padding): [b or 1, 1, s, t].</summary>
    private static Tensor CausalMask(Tensor queryPositions, Tensor keyPositions, ScalarType dtype)
    {
        var hidden = keyPositions.unsqueeze(1).unsqueeze(1) > queryPositions.unsqueeze(1).unsqueeze(-1);
        return zeros(hidden.shape, dtype, queryPositions.device).masked_fill(hidden, Scalars.NegativeInfinity);
    }
}
