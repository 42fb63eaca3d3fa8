using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>
/// A randomly initialized checkpoint written without building the model: each tensor of
/// <see cref="ParameterLayout"/> is drawn, converted to its stored form (FP8 E4M3 with 128×128 block scales, or the
/// requested dtype) and written before the next one is drawn, so the live tensors are at most the largest one in
/// f32 (the embedding, 0.84 GB for V2-Lite) plus the head in stored form, whatever the model's size (the process
/// also holds what LibTorch and the allocator keep: 4.8 GB peak resident for V2-Lite in FP8). The draws are
/// <see cref="WeightInitializer"/>'s (same generator, same order, same std), so the files equal <see cref="ModelCheckpoint.Save"/> of a model
/// initialized with the same seed. A model with MTP modules keeps its embedding and head until their MTP copies
/// are written (twice the largest tensor then).
/// </summary>
public sealed class StreamingInitializer : IDisposable
{
    private readonly Generator _generator;
    private readonly double _std;
    private readonly ModelCheckpoint.SaveOptions _options;
    private readonly Dictionary<string, ParameterSpec> _specs;
    private readonly IReadOnlyList<ParameterSpec> _drawOrder;
    private int _nextDraw;
    /// <summary>Stored tensors drawn ahead of their turn to be written (and FP8 scales waiting for theirs).</summary>
    private readonly Dictionary<string, Tensor> _ready = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _copyOf;
    private readonly HashSet<string> _keep;
    private readonly Dictionary<string, Tensor> _kept = new(StringComparer.Ordinal);

    private StreamingInitializer(ModelConfig config, ModelCheckpoint.SaveOptions options, long seed, double std)
    {
        _generator = new Generator((ulong)seed);
        _std = std;
        _options = options;
        var layout = ParameterLayout.For(config);
        _specs = layout.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _drawOrder = ParameterLayout.InitializationOrder(layout).Where(s => s.Role == ParameterRole.Matrix).ToList();
        _copyOf = HfTensorNames.MtpSharedCopies(config).ToDictionary(c => c.Stored, c => c.Shared, StringComparer.Ordinal);
        _keep = _copyOf.Values.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Writes config.json and the safetensors of a random <paramref name="config"/> model into
    /// <paramref name="directory"/>; <paramref name="progress"/> hears (bytes written, total bytes) after each tensor.
    /// Returns the plan that was written.
    /// </summary>
    public static IReadOnlyList<PlannedTensor> Write(ModelConfig config, string directory, ModelCheckpoint.SaveOptions options,
        long seed, double std = WeightInitializer.ReportStd, IProgress<(long Done, long Total)>? progress = null)
    {
        var plan = Plan(config, options);
        long total = plan.Sum(p => p.ByteLength), done = 0;
        using var initializer = new StreamingInitializer(config, options, seed, std);
        CheckpointWriter.Write(directory, plan, planned =>
        {
            var value = initializer.Produce(planned);
            done += planned.ByteLength;
            progress?.Report((done, total));
            return value;
        }, options.MaxShardBytes, ModelCheckpoint.Metadata);
        ModelCheckpoint.SaveConfig(config, directory, options);
        return plan;
    }

    /// <summary>The checkpoint's tensors in <see cref="ModelCheckpoint.Tensors"/>'s order, names and stored dtypes.</summary>
    public static IReadOnlyList<PlannedTensor> Plan(ModelConfig config, ModelCheckpoint.SaveOptions options)
    {
        var stored = SafetensorsDTypes.FromScalarType(options.Dtype)
            ?? throw new InvalidArgumentException($"dtype {options.Dtype} cannot be stored in safetensors");
        var plan = new List<PlannedTensor>();
        foreach (var spec in ParameterLayout.For(config))
        {
            if (options.Fp8 && HfTensorNames.IsFp8Weight(spec.Name))
            {
                plan.Add(new(spec.Name, SafetensorsDType.F8_E4M3, spec.Shape));
                plan.Add(new(HfTensorNames.ScaleOf(spec.Name), SafetensorsDType.F32, ScaleGrid(spec.Shape)));
            }
            else
                plan.Add(new(spec.Name, spec.Role == ParameterRole.CorrectionBias ? SafetensorsDType.F32 : stored, spec.Shape));
        }
        var byName = plan.ToDictionary(p => p.Name, StringComparer.Ordinal);
        foreach (var (copy, shared) in HfTensorNames.MtpSharedCopies(config))
            plan.Add(byName[shared] with { Name = copy });
        return plan;
    }

    private static long[] ScaleGrid(long[] shape)
    {
        const int block = BlockQuantization.DefaultBlockSize;
        return [(shape[0] + block - 1) / block, (shape[1] + block - 1) / block];
    }

    /// <summary>
    /// The stored value of <paramref name="planned"/>; the caller (the writer) disposes it. Random matrices are drawn
    /// in <see cref="WeightInitializer"/>'s order, which is not the file order: the ones drawn before their turn
    /// wait in stored form (for V2-Lite only lm_head, drawn first and written last).
    /// </summary>
    private Tensor Produce(PlannedTensor planned)
    {
        if (_copyOf.TryGetValue(planned.Name, out string? shared))
            return _kept[shared].alias();
        if (!_ready.Remove(planned.Name, out var value))
        {
            var spec = _specs[planned.Name];
            if (spec.Role == ParameterRole.Matrix)
            {
                while (!_ready.ContainsKey(planned.Name))
                    StoreReady(_drawOrder[_nextDraw++]);
                _ready.Remove(planned.Name, out value);
            }
            else
                value = spec.Role == ParameterRole.Norm ? ones(spec.Shape, _options.Dtype) : zeros(spec.Shape, ScalarType.Float32);
        }
        if (!_keep.Contains(planned.Name))
            return value!;
        _kept[planned.Name] = value!;
        return value!.alias();
    }

    /// <summary>Draws <paramref name="spec"/> as WeightInitializer does (f32 on the CPU from our generator, times std)
    /// and converts it to its stored form: FP8 weight and block scale, or the requested dtype.</summary>
    private void StoreReady(ParameterSpec spec)
    {
        using var std = _std.ToScalar();
        using var draw = randn(spec.Shape, ScalarType.Float32, generator: _generator).mul_(std);
        if (_options.Fp8 && HfTensorNames.IsFp8Weight(spec.Name))
        {
            var (weight, scale) = BlockQuantization.QuantizeWeight(draw);
            _ready[spec.Name] = weight;
            _ready[HfTensorNames.ScaleOf(spec.Name)] = scale;
        }
        else
            _ready[spec.Name] = draw.to(_options.Dtype, copy: true);
    }

    public void Dispose()
    {
        foreach (var tensor in _ready.Values.Concat(_kept.Values))
            tensor.Dispose();
        _generator.Dispose();
    }
}
