using DeepSeekV3.Configuration;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// One decoder block for <see cref="FusedDecoder"/>: views of the block's weights and its forward pass over a few
/// token rows, h += MLA(RMSNorm(h)); h += FFN(RMSNorm(h)), with absorbed MLA over the paged latent cache and
/// DeepSeekMoE (or the dense SwiGLU of the first layers). A transcription of <see cref="DecoderLayer"/>'s forward
/// with <see cref="AttentionMode.Absorbed"/>, in fp32 activations, on the kernels of <see cref="Kernels"/>.
/// </summary>
internal sealed unsafe class FusedLayer
{
    private readonly ModelConfig _config;
    private readonly float[] _inputNorm, _postNorm, _kvANorm;
    private readonly float[]? _qANorm, _correctionBias;
    private readonly WeightMatrix? _qA, _qB, _q;
    private readonly WeightMatrix _kvA, _kvB, _o;
    private readonly WeightMatrix? _router;
    private readonly RoutingRule? _routing;
    private readonly (WeightMatrix Gate, WeightMatrix Up, WeightMatrix Down)[] _experts = [];
    private readonly (WeightMatrix Gate, WeightMatrix Up, WeightMatrix Down)? _shared, _dense;
    private readonly float _eps;

    /// <summary>Block <paramref name="index"/> (an MTP module's block from num_hidden_layers on) from
    /// <paramref name="weights"/>, by the checkpoint names under model.layers.{index}.</summary>
    public FusedLayer(IDecoderWeights weights, ModelConfig config, int index)
    {
        _config = config;
        Index = index;
        _eps = (float)config.RmsNormEps;
        string prefix = $"model.layers.{index}";
        float[] Norm(string name) => weights.Vector(name) ?? throw new Checkpoints.TensorNotFoundException("the fused decoder's weights", name);
        _inputNorm = Norm($"{prefix}.input_layernorm.weight");
        _postNorm = Norm($"{prefix}.post_attention_layernorm.weight");
        string attention = $"{prefix}.self_attn";
        if (config.QLoraRank is null)
            _q = weights.Matrix($"{attention}.q_proj.weight");
        else
        {
            _qA = weights.Matrix($"{attention}.q_a_proj.weight");
            _qANorm = Norm($"{attention}.q_a_layernorm.weight");
            _qB = weights.Matrix($"{attention}.q_b_proj.weight");
        }
        _kvA = weights.Matrix($"{attention}.kv_a_proj_with_mqa.weight");
        _kvANorm = Norm($"{attention}.kv_a_layernorm.weight");
        _kvB = weights.Matrix($"{attention}.kv_b_proj.weight");
        _o = weights.Matrix($"{attention}.o_proj.weight");
        if (DecoderLayer.UsesMoe(config, index))
        {
            _router = weights.Matrix($"{prefix}.mlp.gate.weight");
            _routing = new RoutingRule(config);
            if (_routing.UsesCorrectionBias) _correctionBias = Norm($"{prefix}.mlp.gate.e_score_correction_bias");
            _experts = Enumerable.Range(0, config.NRoutedExperts).Select(i => Mlp(weights, $"{prefix}.mlp.experts.{i}")).ToArray();
            if (config.NSharedExperts > 0) _shared = Mlp(weights, $"{prefix}.mlp.shared_experts");
        }
        else
        {
            _dense = Mlp(weights, $"{prefix}.mlp");
        }
    }

    /// <summary>Position in model.layers, and this block's layer in the cache.</summary>
    public int Index { get; }

    private static (WeightMatrix, WeightMatrix, WeightMatrix) Mlp(IDecoderWeights weights, string name) =>
        (weights.Matrix(name + ".gate_proj.weight"), weights.Matrix(name + ".up_proj.weight"), weights.Matrix(name + ".down_proj.weight"));

    /// <summary>
    /// x: the residual stream [m, hidden] of the step's token rows, updated in place. The rows' latent entries are
    /// appended to this block's cache layer, each sequence's rows continuing where that layer ends.
    /// </summary>
    /// <param name="lastOnly">
    /// Compute past the cache write only each sequence's last row: the others just append their latent entries, and x
    /// keeps the last rows, [batch, hidden], at its front. Exact for a model's last block (an MTP module's only one),
    /// whose earlier rows reach the last one through the cache alone.
    /// </param>
    /// <returns>The rows x holds now: m, or the batch size with <paramref name="lastOnly"/>.</returns>
    public int Forward(float* x, int m, FusedStep step, bool lastOnly = false)
    {
        var s = step.Scratch;
        var kept = lastOnly ? step.LastRows : step.AllRows;
        step.BeginLayer(Index);
        // h += MLA(RMSNorm(h))   (DecoderLayer.Forward)
        RmsNormRows(x, _inputNorm, s.Normed, m);
        Attention(s.Normed, m, step, kept);                                   // → s.Projected [kept, hidden]
        FusedStep.Gather(x, kept, _config.HiddenSize);
        m = kept.Length;
        AddRows(x, s.Projected, m);
        // h += FFN(RMSNorm(h)): the dense SwiGLU of the first layers, DeepSeekMoE after
        RmsNormRows(x, _postNorm, s.Normed, m);
        if (_dense is { } dense)
        {
            var clock = step.Clock();
            SwiGlu(dense, s.Normed, m, s.Projected, step.Team, s.Gate, s.Up, step.Gemm);
            clock.Lap(DecodeStage.DenseMlp);
        }
        else
            MixtureOfExperts(s.Normed, m, step);                               // → s.Projected [m, hidden]
        AddRows(x, s.Projected, m);
        return m;
    }

    private void RmsNormRows(float* x, float[] weight, float* output, int m)
    {
        int h = _config.HiddenSize;
        fixed (float* w = weight)
            for (int i = 0; i < m; i++) RowMath.RmsNorm(x + i * h, w, output + i * h, h, _eps);
    }

    private void AddRows(float* x, float* y, int m)
    {
        int h = _config.HiddenSize;
        for (int i = 0; i < m; i++) RowMath.Add(x + i * h, y + i * h, h);
    }

    /// <summary>
    /// Absorbed MLA (report eqs. 1-11, as <see cref="MultiHeadLatentAttention"/> in absorbed mode) of normalized rows
    /// n [m, hidden]: every row's latent entry goes into the cache; the rows listed in <paramref name="kept"/>
    /// (ascending) attend, → s.Projected [kept, hidden].
    /// </summary>
    private void Attention(float* n, int m, FusedStep step, int[] kept)
    {
        var s = step.Scratch;
        var c = _config;
        int heads = c.NumAttentionHeads, dqk = c.QkNopeHeadDim + c.QkRopeHeadDim;
        var clock = step.Clock();
        Queries(n, m, step);                                                  // eqs. (6)-(8): s.Query [m, heads, d_qk]
        step.Multiply(_kvA, n, m, s.KeyValue);                                // eqs. (1), (3): [m, r_kv + d_r]
        clock.Lap(DecodeStage.AttentionProjections);
        CacheLatents(m, step);                                                // c_kv normalized, RoPE, cache write
        FusedStep.Gather(s.Query, kept, heads * dqk);
        m = kept.Length;
        clock.Lap(DecodeStage.AttentionCore);
        if (step.Gemm is { } gemm && m > Gemv.MaxRows)
        {
            // A prefill chunk: W_UK and W_UV absorbed by one GEMM per head over all rows (row-by-row AXPYs would cost
            // as much as the chunk's linear layers), the attention itself as in decoding.
            AbsorbQueries(step, gemm, m);
            clock.Lap(DecodeStage.AttentionAbsorb);
            step.Team.Run(member => AttendHeads(member, m, step, kept, absorb: false));
            clock.Restart();
            AbsorbOutputs(step, gemm, m);
            clock.Lap(DecodeStage.AttentionAbsorb);
        }
        else   // Heads are independent from here to the output projection: the team splits them.
            step.Team.Run(member => AttendHeads(member, m, step, kept, absorb: true));   // → s.AttentionOutput [m, heads, d_v]
        clock.Restart();
        step.Multiply(_o, s.AttentionOutput, m, s.Projected);                 // eq. (11)
        clock.Lap(DecodeStage.AttentionProjections);
    }

    /// <summary>Eqs. (6)-(8): queries [m, heads, d_n + d_r] into s.Query (q_proj, or q_a → q_a_layernorm → q_b).</summary>
    private void Queries(float* n, int m, FusedStep step)
    {
        var s = step.Scratch;
        if (_q is { } q)
        {
            step.Multiply(q, n, m, s.Query);
            return;
        }
        int ql = _config.QLoraRank!.Value;
        step.Multiply(_qA!.Value, n, m, s.QueryLatentInput);
        fixed (float* norm = _qANorm)
            for (int i = 0; i < m; i++)
                RowMath.RmsNorm(s.QueryLatentInput + i * ql, norm, s.QueryLatentInput + i * ql, ql, _eps);
        step.Multiply(_qB!.Value, s.QueryLatentInput, m, s.Query);
    }

    /// <summary>
    /// From kv_a's output [m, r_kv + d_r]: the normalized latent c_kv and the rotated RoPE key k_pe of every row into
    /// the cache (eqs. 1, 3), and RoPE on every head's q_pe (eq. 8). Then each kept row's attention query per head,
    /// [absorbed latent query (filled by <see cref="AttendHeads"/>) ; rotated q_pe], r_kv + d_r wide like a cache row.
    /// </summary>
    private void CacheLatents(int m, FusedStep step)
    {
        var s = step.Scratch;
        var c = _config;
        int heads = c.NumAttentionHeads, dn = c.QkNopeHeadDim, dr = c.QkRopeHeadDim, dqk = dn + dr;
        int r = c.KvLoraRank, pairs = dr / 2;
        step.Angles(m);
        fixed (float* norm = _kvANorm)
            for (int i = 0; i < m; i++)
            {
                RowMath.RmsNorm(s.KeyValue + i * (r + dr), norm, s.Latent + i * r, r, _eps);
                Buffer.MemoryCopy(s.KeyValue + i * (r + dr) + r, s.RopeKey + i * dr, dr * 4L, dr * 4L);
                RowMath.Rotate(s.RopeKey + i * dr, s.Cos + i * pairs, s.Sin + i * pairs, pairs);
                for (int head = 0; head < heads; head++)
                    RowMath.Rotate(s.Query + (i * heads + head) * dqk + dn, s.Cos + i * pairs, s.Sin + i * pairs, pairs);
            }
        step.WriteCache(s.Latent, s.RopeKey, m);
    }

    /// <summary>
    /// One team member's heads for the m kept rows: W_UK absorbed into the query, attention over the cache
    /// (<see cref="LatentAttention"/>), W_UV absorbed into the output, → s.AttentionOutput [m, heads, d_v].
    /// </summary>
    private void AttendHeads(int member, int m, FusedStep step, int[] kept, bool absorb)
    {
        var s = step.Scratch;
        var c = _config;
        int heads = c.NumAttentionHeads, dn = c.QkNopeHeadDim, dr = c.QkRopeHeadDim, dv = c.VHeadDim;
        int dqk = dn + dr, r = c.KvLoraRank, width = r + dr;
        var (first, last) = step.Team.Share(member, heads);
        float* temp = s.AttentionTemp + member * s.AttentionTempPerMember;
        var clock = member == 0 ? step.Clock() : default;                     // the calling member times the split
        // q_latent[i, head] = Σ_d q_nope[i, head, d] · kv_b[head·(d_n+d_v) + d]; q_pe goes after it.
        for (int head = first; head < last && absorb; head++)
        {
            for (int i = 0; i < m; i++)
            {
                new Span<float>(s.QueryLatent + (i * heads + head) * width, r).Clear();
                Buffer.MemoryCopy(s.Query + (i * heads + head) * dqk + dn, s.QueryLatent + (i * heads + head) * width + r, dr * 4L, dr * 4L);
            }
            for (int d = 0; d < dn; d++)                                      // each kv_b row once for every row i
                for (int i = 0; i < m; i++)
                    _kvB.AxpyRow(s.QueryLatent + (i * heads + head) * width, s.Query[(i * heads + head) * dqk + d], head * (dn + dv) + d);
        }
        clock.Lap(DecodeStage.AttentionAbsorb);
        for (int i = 0; i < m; i++)                                           // eqs. (9)-(10)
            step.Attend(step.RowSequence[kept[i]], step.RowPosition[kept[i]], s.QueryLatent + i * heads * width,
                        s.OutputLatent + i * heads * r, first, last, temp);
        clock.Lap(DecodeStage.AttentionCore);
        // o[i, head, v] = out_latent[i, head] · kv_b[head·(d_n+d_v) + d_n + v]
        for (int head = first; head < last && absorb; head++)
            for (int v = 0; v < dv; v++)
                for (int i = 0; i < m; i++)
                    s.AttentionOutput[(i * heads + head) * dv + v] = _kvB.DotRow(s.OutputLatent + (i * heads + head) * r, head * (dn + dv) + dn + v);
        clock.Lap(DecodeStage.AttentionAbsorb);
    }

    /// <summary>As <see cref="AttendHeads"/>'s first loop, per head on the GEMM: s.QueryLatent [m, heads, r_kv + d_r]
    /// = [q_nope [m, d_n] · W_UK (kv_b rows head·(d_n+d_v) .. + d_n) ; q_pe].</summary>
    private void AbsorbQueries(FusedStep step, TileGemm gemm, int m)
    {
        var s = step.Scratch;
        var c = _config;
        int heads = c.NumAttentionHeads, dn = c.QkNopeHeadDim, dr = c.QkRopeHeadDim, dv = c.VHeadDim;
        int dqk = dn + dr, r = c.KvLoraRank, width = r + dr;
        for (int head = 0; head < heads; head++)
        {
            gemm.MultiplyByRows(s.Query + head * dqk, m, heads * dqk, _kvB, head * (dn + dv), dn, s.QueryLatent + head * width, heads * width);
            for (int i = 0; i < m; i++)
                Buffer.MemoryCopy(s.Query + (i * heads + head) * dqk + dn, s.QueryLatent + (i * heads + head) * width + r, dr * 4L, dr * 4L);
        }
    }

    /// <summary>As <see cref="AttendHeads"/>'s last loop, per head on the GEMM: s.AttentionOutput [m, heads, d_v]
    /// = out_latent [m, r_kv] · W_UVᵀ (kv_b rows head·(d_n+d_v) + d_n .. + d_v).</summary>
    private void AbsorbOutputs(FusedStep step, TileGemm gemm, int m)
    {
        var s = step.Scratch;
        var c = _config;
        int heads = c.NumAttentionHeads, dn = c.QkNopeHeadDim, dv = c.VHeadDim, r = c.KvLoraRank;
        for (int head = 0; head < heads; head++)
            gemm.MultiplyRows(s.OutputLatent + head * r, m, heads * r, _kvB, head * (dn + dv) + dn, dv, s.AttentionOutput + head * dv, heads * dv);
    }

    /// <summary>DeepSeekMoE (eqs. 12-16) of normalized rows n [m, hidden] → s.Projected [m, hidden].</summary>
    private void MixtureOfExperts(float* n, int m, FusedStep step)
    {
        var s = step.Scratch;
        int h = _config.HiddenSize, k = _config.NumExpertsPerTok, experts = _experts.Length;
        var clock = step.Clock();
        step.MultiplyExact(_router!.Value, n, m, s.RouterLogits);   // fp32 even in a bf16 prefill
        var chosen = new int[m * k];
        var weights = new float[m * k];
        for (int i = 0; i < m; i++)
            _routing!.Route(new ReadOnlySpan<float>(s.RouterLogits + i * experts, experts), _correctionBias,
                            chosen.AsSpan(i * k, k), weights.AsSpan(i * k, k));
        clock.Lap(DecodeStage.Router);

        // Each routed expert runs over exactly its rows, gathered into ExpertInput from row `Offset` on; rowOf and
        // weightOf say, per gathered row, which token row it came from and with what routing weight.
        var rowOf = new int[m * k];
        var weightOf = new float[m * k];
        var work = new List<(int Expert, int Offset, int Count)>();
        int offset = 0;
        for (int e = 0; e < experts; e++)
        {
            int count = 0;
            for (int p = 0; p < m * k; p++)
                if (chosen[p] == e)
                {
                    rowOf[offset + count] = p / k;
                    weightOf[offset + count++] = weights[p];
                }
            if (count == 0) continue;
            for (int j = offset; j < offset + count; j++)
                Buffer.MemoryCopy(n + rowOf[j] * h, s.ExpertInput + j * h, h * 4L, h * 4L);
            work.Add((e, offset, count));
            offset += count;
        }
        void Run(int item, WorkerTeam? team, int member)
        {
            var (e, at, count) = work[item];
            SwiGlu(_experts[e], s.ExpertInput + at * h, count, s.ExpertOutput + at * h, team,
                   s.MemberGate + member * s.MemberIntermediate, s.MemberUp + member * s.MemberIntermediate, step.Gemm);
        }
        // On the GEMM (a prefill chunk) each selected expert is read once for all its rows, one expert after another:
        // LibTorch's GEMM has the threads.
        if (step.Gemm is not null || step.Team.Size == 1 || work.Count == 1)
            for (int item = 0; item < work.Count; item++) Run(item, step.Team, 0);
        else
        {
            // Members take whole experts: fewer, longer weight streams and one fork-join per layer instead of three
            // per expert. Balanced greedily, largest first.
            var owner = BalanceExperts(work.Select(w => w.Count).ToArray(), step.Team.Size);
            step.Team.Run(member =>
            {
                for (int item = 0; item < work.Count; item++)
                    if (owner[item] == member) Run(item, null, member);
            });
        }
        // The weighted sum in ascending expert order, fp32 (as MixtureOfExperts does): the same bits for any team size.
        new Span<float>(s.Routed, m * h).Clear();
        for (int j = 0; j < offset; j++)
            RowMath.Axpy(s.Routed + rowOf[j] * h, weightOf[j], s.ExpertOutput + j * h, h);
        clock.Lap(DecodeStage.RoutedExperts);
        if (_shared is { } shared)
        {
            SwiGlu(shared, n, m, s.Projected, step.Team, s.Gate, s.Up, step.Gemm);
            clock.Lap(DecodeStage.SharedExperts);
            AddRows(s.Projected, s.Routed, m);
        }
        else
        {
            Buffer.MemoryCopy(s.Routed, s.Projected, m * h * 4L, m * h * 4L);
        }
    }

    /// <summary>
    /// Which team member runs each expert (costs: its rows): largest first, each to the least-loaded member, a
    /// weight stream counting as four rows (decode is bound by reading the expert, not by its few rows).
    /// </summary>
    internal static int[] BalanceExperts(int[] rows, int members)
    {
        var owner = new int[rows.Length];
        var load = new int[members];
        foreach (int item in Enumerable.Range(0, rows.Length).OrderByDescending(i => rows[i]).ThenBy(i => i))
        {
            int least = 0;
            for (int member = 1; member < members; member++)
                if (load[member] < load[least]) least = member;
            owner[item] = least;
            load[least] += 4 + rows[item];
        }
        return owner;
    }

    /// <summary>down(silu(gate·x) ⊙ up·x) for x [m, hidden] → y [m, hidden] (SwiGLU, as <see cref="SwiGluMlp"/>), with the intermediate
    /// activations in <paramref name="gate"/> and <paramref name="up"/> [m, width]; on <paramref name="gemm"/> for
    /// many rows (<see cref="FusedStep.Multiply(TileGemm?, WorkerTeam?, in WeightMatrix, float*, int, float*)"/>).</summary>
    internal static void SwiGlu((WeightMatrix Gate, WeightMatrix Up, WeightMatrix Down) mlp, float* x, int m, float* y,
        WorkerTeam? team, float* gate, float* up, TileGemm? gemm = null)
    {
        int width = mlp.Gate.Rows;
        FusedStep.Multiply(gemm, team, mlp.Gate, x, m, gate);
        FusedStep.Multiply(gemm, team, mlp.Up, x, m, up);
        RowMath.SiluMul(gate, up, m * width);
        FusedStep.Multiply(gemm, team, mlp.Down, gate, m, y);
    }
}
