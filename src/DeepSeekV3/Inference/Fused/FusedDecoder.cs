using TorchSharp;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// A second implementation of the forward pass for a few new tokens per sequence (decoding, speculative
/// verification, MTP drafting), written straight on the weights' memory with the AVX-512 kernels of
/// <see cref="Kernels"/>: one call per step instead of dozens of LibTorch ops per layer, and weights streamed at memory
/// bandwidth. Same math as the model's absorbed forward (tests compare the two at every step), fp32 activations,
/// fp32, bf16 or block-scaled FP8 weights (<see cref="WeightFormat"/>) from the model or from any
/// <see cref="IDecoderWeights"/> (a memory-mapped checkpoint), CPU only. Long prompts go to LibTorch's model forward
/// (GEMM-bound, where LibTorch is strong) or, with <see cref="PrefillPrecision"/>, through this decoder's layers with
/// every linear a GEMM over the weights as stored (<see cref="TileGemm"/>); all write the same
/// <see cref="PagedLatentCache"/>. Not thread-safe: one decoder per generating thread. Build it after the model has its
/// final device and dtype: it keeps views of the parameters' memory.
/// </summary>
public sealed unsafe class FusedDecoder : IDisposable
{
    /// <summary>The TorchSharp model the weights are views of, if any (to notice its parameters being replaced).</summary>
    private readonly DeepSeekV3ForCausalLM? _model;
    private readonly ModelConfig _config;
    private readonly FusedLayer[] _layers;
    private readonly WeightMatrix _embed, _head;
    private readonly float[] _norm;
    /// <summary>MTP module k at [k − 1]: its norms, eh_proj, block and shared_head.norm.</summary>
    private readonly (float[] ENorm, float[] HNorm, WeightMatrix EhProj, FusedLayer Block, float[] HeadNorm)[] _mtp;
    private readonly float[] _inverseFrequencies;
    private readonly float _attentionFactor, _softmaxScale;
    private readonly nint _headHandle;
    private readonly FusedScratch _scratch;
    private readonly WorkerTeam _team;

    /// <summary>The model is on the CPU with fp32 or bf16 weights and the machine has AVX-512.</summary>
    public static bool Supports(DeepSeekV3ForCausalLM model)
    {
        var weight = model.LmHead.Weight;
        return Gemv.IsSupported && weight.device_type == DeviceType.CPU
            && weight.dtype is ScalarType.Float32 or ScalarType.BFloat16;
    }

    /// <param name="threads">Threads that share each weight matrix (a <see cref="WorkerTeam"/>, owned by the decoder);
    /// 0 = LibTorch's thread count.</param>
    public FusedDecoder(DeepSeekV3ForCausalLM model, int threads = 0)
        : this(model.Config, SupportedModel(model), threads)
    {
        _model = model;
        _headHandle = model.LmHead.Weight.Handle;
    }

    /// <summary>A decoder over <paramref name="weights"/> alone (a checkpoint's memory, FP8 or BF16 as stored): no
    /// TorchSharp model is needed. The weights must outlive the decoder.</summary>
    public FusedDecoder(ModelConfig config, IDecoderWeights weights, int threads = 0)
    {
        if (!Gemv.IsSupported)
            throw new InvalidArgumentException("the fused decoder needs AVX-512 (Vector512 hardware acceleration)");
        _config = config;
        int size = threads > 0 ? threads : Math.Min(get_num_threads(), Environment.ProcessorCount);
        _layers = Enumerable.Range(0, _config.NumHiddenLayers).Select(l => new FusedLayer(weights, _config, l)).ToArray();
        _embed = weights.Matrix("model.embed_tokens.weight");
        _head = weights.Matrix("lm_head.weight");
        _norm = Norm(weights, "model.norm.weight");
        _mtp = Enumerable.Range(_config.NumHiddenLayers, _config.NumNextnPredictLayers).Select(layer =>
            (Norm(weights, $"model.layers.{layer}.enorm.weight"), Norm(weights, $"model.layers.{layer}.hnorm.weight"),
             weights.Matrix($"model.layers.{layer}.eh_proj.weight"), new FusedLayer(weights, _config, layer),
             Norm(weights, $"model.layers.{layer}.shared_head.norm.weight"))).ToArray();
        var rope = new YarnRotaryEmbedding(config);
        _inverseFrequencies = rope.InverseFrequencies.ToArray();
        _attentionFactor = (float)rope.AttentionFactor;
        _softmaxScale = (float)rope.SoftmaxScale;
        _scratch = new FusedScratch(_config);
        _team = new WorkerTeam(size);
    }

    private static IDecoderWeights SupportedModel(DeepSeekV3ForCausalLM model) => Supports(model)
        ? TensorWeights.Of(model)
        : throw new InvalidArgumentException($"the fused decoder needs a CPU model with fp32 or bf16 weights and AVX-512; " +
                                             $"this one is {model.LmHead.Weight.dtype} on {model.LmHead.Weight.device}");

    private static float[] Norm(IDecoderWeights weights, string name) =>
        weights.Vector(name) ?? throw new TensorNotFoundException("the fused decoder's weights", name);

    public int Threads => _team.Size;

    /// <summary>Set to time every pass by stage (null, the default, costs nothing).</summary>
    public DecodeProfile? Profile { get; set; }

    /// <summary>Rows (batch × new tokens) one pass takes.</summary>
    public static int MaxRows => Gemv.MaxRows;

    /// <summary>
    /// The main model over tokens [batch, s] that continue the cache's batch sequences (<see cref="PagedLatentCache.SetBatch"/>)
    /// where they end; appends their entries. Returns logits [batch, s, vocab] and the final hidden state after
    /// model.norm [batch, s, hidden], both fp32; the caller owns them. <paramref name="lastOnly"/>: only each
    /// sequence's last position, [batch, 1, ·] (a short prompt's prefill): the last block runs the earlier positions
    /// only up to their cache entries, which is all later positions see of them.
    /// </summary>
    public ModelOutput Forward(Tensor tokens, PagedLatentCache cache, bool lastOnly = false) =>
        Pass(tokens, cache, lastOnly, gemm: null);

    /// <summary><see cref="Forward"/> with the linear layers on <paramref name="gemm"/> (any number of rows) or on the
    /// decode kernels (null: up to <see cref="MaxRows"/> rows).</summary>
    private ModelOutput Pass(Tensor tokens, PagedLatentCache cache, bool lastOnly, TileGemm? gemm)
    {
        var (rows, steps) = Rows(tokens, cache, gemm is null ? MaxRows : int.MaxValue);
        long start = DecodeProfile.Now;
        var step = NewStep(cache, steps, gemm);
        float* x = _scratch.Residual;
        Embed(tokens, x);
        int last = _config.NumHiddenLayers - 1;
        for (int l = 0; l < last; l++)
            _layers[l].Forward(x, rows, step);
        _layers[last].Forward(x, rows, step, lastOnly);
        var output = Head(x, _norm, tokens.shape[0], lastOnly ? 1 : steps, returnNormalized: true, gemm);
        Profile?.EndPass(start);
        return output;
    }

    /// <summary>Prompts up to this many tokens prefill faster here, 16 positions per pass, than on LibTorch, whose
    /// GEMMs win once its fixed cost per forward is spread over enough tokens (crossovers: README, Fused decoder).</summary>
    public static int PrefillTokens => 2 * MaxRows;

    /// <summary>
    /// The arithmetic of prompts longer than <see cref="MaxRows"/>: null (the default) runs them <see cref="MaxRows"/>
    /// positions per pass on the decode kernels, exact in fp32 but reading every weight once per 16 positions; set, it
    /// runs them <see cref="PrefillChunk"/> positions per pass with every linear layer a GEMM (<see cref="TileGemm"/>)
    /// in that precision: each weight read once per chunk, each chosen expert once for all its rows of the chunk.
    /// </summary>
    public GemmPrecision? PrefillPrecision
    {
        get => _gemm?.Precision;
        init => _gemm = value is { } precision ? new TileGemm(precision, _team) : null;
    }

    /// <summary>
    /// Prompt positions per GEMM pass (<see cref="PrefillPrecision"/>). Each pass reads every weight it uses once, so
    /// longer is better until the GEMMs reach their peak: at 256 rows the inner dimension's reuse per weight tile is
    /// already 256×, while the scratch rows (activations, gathered expert inputs: rows × top-k × hidden floats) stay
    /// a few MB even for a 16B model, and a served prompt still interleaves with decode steps at that granularity.
    /// </summary>
    public const int PrefillChunk = 256;

    private readonly TileGemm? _gemm;

    /// <summary>
    /// One sequence's prompt tokens continuing its cache (the cache's batch is that sequence), <see cref="MaxRows"/>
    /// positions per pass (or <see cref="PrefillChunk"/> on the GEMM, see <see cref="PrefillPrecision"/>). Returns the last position's logits [1, 1, vocab] and the hidden state after model.norm at
    /// every position [1, n, hidden], or only at the last with <paramref name="lastOnly"/> (see <see cref="Forward"/>);
    /// the caller owns them.
    /// </summary>
    public ModelOutput Prefill(long[] tokens, PagedLatentCache cache, bool lastOnly)
    {
        if (tokens.Length == 0) throw new ArgumentException("the prompt is empty: give at least one token");
        using var scope = NewDisposeScope();
        var hidden = new List<Tensor>();
        ModelOutput last = null!;
        var gemm = tokens.Length > MaxRows ? _gemm : null;
        int chunk = gemm is null ? MaxRows : PrefillChunk;
        for (int start = 0; start < tokens.Length; start += chunk)
        {
            int length = Math.Min(chunk, tokens.Length - start);
            last = Pass(tensor(tokens[start..(start + length)]).unsqueeze(0), cache, lastOnly, gemm);
            hidden.Add(last.Hidden);
        }
        var logits = last.Logits.narrow(1, last.Logits.shape[1] - 1, 1);
        var states = lastOnly ? last.Hidden : cat(hidden, 1);
        return new ModelOutput(logits.MoveToOuterDisposeScope(), states.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// MTP module <paramref name="depth"/> (1-based) over previous h^{k-1} [batch, s, hidden] and the tokens
    /// t_{i+k} [batch, s], continuing that module's cache layer. Returns logits [batch, s, vocab] and h^k (before
    /// shared_head.norm), as <see cref="DeepSeekV3ForCausalLM.ForwardMtp"/> does. With <paramref name="lastOnly"/>
    /// only each sequence's last position gets logits and h^k, [batch, 1, ·], which is all a draft needs: the earlier
    /// positions only append their cache entries (the module's single block passes nothing else to later positions),
    /// so neither their experts nor the shared head are computed. Not for chaining into module k + 1, which needs h^k
    /// at every position.
    /// </summary>
    public ModelOutput ForwardMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache, bool lastOnly = false)
    {
        if (depth < 1 || depth > _mtp.Length)
            throw new ArgumentOutOfRangeException(nameof(depth), $"MTP depth {depth} not in [1, {_mtp.Length}]");
        var (rows, steps) = Rows(nextTokens, cache, MaxRows);
        if (!previous.shape.SequenceEqual(new[] { nextTokens.shape[0], nextTokens.shape[1], _config.HiddenSize }))
            throw new ArgumentException($"previous hidden states [{string.Join(", ", previous.shape)}] do not match tokens [{string.Join(", ", nextTokens.shape)}]");
        long start = DecodeProfile.Now;
        var step = NewStep(cache, steps, gemm: null);
        var (eNorm, hNorm, ehProj, block, headNorm) = _mtp[depth - 1];
        int h = _config.HiddenSize;
        float eps = (float)_config.RmsNormEps;
        float* x = _scratch.Residual, combined = _scratch.Combined;

        // Eq. (21): [enorm(Emb(t_{i+k})) ; hnorm(h_i^{k-1})], embedding first (docs/reference-notes.md#mtp-input-order), then eh_proj.
        Embed(nextTokens, _scratch.Normed);
        using (var hidden = previous.detach().to(ScalarType.Float32).cpu().contiguous())
        fixed (byte* p = hidden.bytes)
        fixed (float* e = eNorm, hn = hNorm)
            for (int i = 0; i < rows; i++)
            {
                RowMath.RmsNorm(_scratch.Normed + i * h, e, combined + i * 2 * h, h, eps);
                RowMath.RmsNorm((float*)p + i * h, hn, combined + i * 2 * h + h, h, eps);
            }
        ehProj.Multiply(combined, rows, x, _team);
        block.Forward(x, rows, step, lastOnly);                                             // eq. (22)
        var output = Head(x, headNorm, nextTokens.shape[0], lastOnly ? 1 : steps, returnNormalized: false, gemm: null);   // eq. (23)
        Profile?.EndPass(start);
        return output;
    }

    /// <summary>
    /// What an MTP draft needs of module <paramref name="depth"/> over previous [batch, s, hidden] and tokens
    /// [batch, s]: the last position's logits and h^k, [batch, 1, ·]. A batch of rows ≤ <see cref="MaxRows"/> is one
    /// pass; one sequence's longer run goes <see cref="MaxRows"/> pairs per pass, only the last pass computing past
    /// the cache write. The caller owns the result.
    /// </summary>
    public ModelOutput DraftMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache)
    {
        long length = nextTokens.shape[1];
        if (nextTokens.shape[0] * length <= MaxRows) return ForwardMtp(depth, previous, nextTokens, cache, lastOnly: true);
        if (nextTokens.shape[0] != 1)
            throw new ArgumentException($"MTP over [{string.Join(", ", nextTokens.shape)}] tokens: more than {MaxRows} rows only for one sequence");
        ModelOutput? last = null;
        for (long at = 0; at < length; at += MaxRows)
        {
            last?.Dispose();
            long rows = Math.Min(MaxRows, length - at);
            using var h = previous.narrow(1, at, rows);
            using var t = nextTokens.narrow(1, at, rows);
            last = ForwardMtp(depth, h, t, cache, lastOnly: true);
        }
        return last!;
    }

    private (int Rows, int Steps) Rows(Tensor tokens, PagedLatentCache cache, int maxRows)
    {
        if (_model is not null && _model.LmHead.Weight.Handle != _headHandle)
            throw new InvalidOperationException("the model's parameters were replaced (Module.to?) after this FusedDecoder was built; build a new one");
        if (tokens.dim() != 2 || tokens.shape[0] != cache.Batch.Count)
            throw new ArgumentException($"tokens must be [batch, s] with batch = the cache's {cache.Batch.Count} sequences; found [{string.Join(", ", tokens.shape)}]");
        long rows = tokens.shape[0] * tokens.shape[1];
        if (rows < 1 || rows > maxRows)
            throw new ArgumentException($"{rows} token rows; the fused decoder takes 1..{maxRows} per pass (prefill with Prefill or the model's forward)");
        return ((int)rows, (int)tokens.shape[1]);
    }

    private FusedStep NewStep(PagedLatentCache cache, int steps, TileGemm? gemm) =>
        new(_config, cache, _scratch, _team, _inverseFrequencies, _attentionFactor, _softmaxScale, steps) { Profile = Profile, Gemm = gemm };

    private void Embed(Tensor tokens, float* destination)
    {
        using var ids = tokens.to(ScalarType.Int64).cpu().contiguous();
        var values = ids.data<long>().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] < 0 || values[i] >= _config.VocabSize)
                throw new InvalidArgumentException($"token {values[i]} is outside the vocabulary [0, {_config.VocabSize})");
            _embed.CopyRow((int)values[i], destination + i * _config.HiddenSize);
        }
    }

    /// <summary>
    /// The hidden output [batch, steps, hidden] — the normalized rows (main model, after model.norm) or x itself (MTP,
    /// h^k) — and the logits of the normalized rows [batch, steps, vocab], for the batch · steps rows x holds.
    /// </summary>
    private ModelOutput Head(float* x, float[] norm, long batch, long steps, bool returnNormalized, TileGemm? gemm)
    {
        int h = _config.HiddenSize, rows = (int)(batch * steps);
        float eps = (float)_config.RmsNormEps;
        var hidden = empty([batch, steps, h], ScalarType.Float32);
        var logits = empty([batch, steps, _config.VocabSize], ScalarType.Float32);
        fixed (byte* hiddenBytes = hidden.bytes)
        fixed (byte* logitBytes = logits.bytes)
        fixed (float* w = norm)
        {
            var clock = new StageClock(Profile);
            float* normalized = _scratch.Normed;
            for (int i = 0; i < rows; i++) RowMath.RmsNorm(x + i * h, w, normalized + i * h, h, eps);
            Buffer.MemoryCopy(returnNormalized ? normalized : x, hiddenBytes, rows * h * 4L, rows * h * 4L);
            FusedStep.Multiply(gemm, _team, _head, normalized, rows, (float*)logitBytes);
            clock.Lap(DecodeStage.LmHead);
        }
        return new ModelOutput(logits, hidden);
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose() => _team.Dispose();
}
