using DeepSeekV3.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The transformer body, checkpoint prefix <c>model.</c>: embed_tokens, layers.{0..L-1} (main blocks) followed by
/// layers.{L..L+D-1} (the D MTP modules, as in V3's checkpoint), and the final norm.
/// </summary>
public sealed class DeepSeekV3Model : nn.Module
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    public DeepSeekV3Model(ModelConfig config) : base(nameof(DeepSeekV3Model))
    {
        Config = config;
        Rope = new YarnRotaryEmbedding(config);
        EmbedTokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        int main = config.NumHiddenLayers;
        var blocks = Enumerable.Range(0, main + config.NumNextnPredictLayers)
            .Select(i => i < main ? new DecoderLayer(config, i, Rope) : new MtpLayer(config, i, Rope));
        Layers = nn.ModuleList(blocks.ToArray());
        Norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        register_module("embed_tokens", EmbedTokens);
        register_module("layers", Layers);
        register_module("norm", Norm);
    }

    public ModelConfig Config { get; }
    public YarnRotaryEmbedding Rope { get; }
    public Embedding EmbedTokens { get; }
    public ModuleList<DecoderLayer> Layers { get; }
    public RmsNorm Norm { get; }

    public IEnumerable<MtpLayer> MtpLayers => Layers.Skip(Config.NumHiddenLayers).Cast<MtpLayer>();

    /// <summary>MTP module k = <paramref name="depth"/> (1-based, the report's k), stored as layer L + k − 1.</summary>
    public MtpLayer Mtp(int depth)
    {
        if (depth < 1 || depth > Config.NumNextnPredictLayers)
            throw new ArgumentOutOfRangeException(nameof(depth), $"MTP depth {depth} not in [1, {Config.NumNextnPredictLayers}]");
        return (MtpLayer)Layers[Config.NumHiddenLayers + depth - 1];
    }

    /// <summary>tokens: [batch, seq] int64 → final hidden state after the last norm [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor tokens, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        var h = Run(EmbedTokens.forward(tokens), 0, Config.NumHiddenLayers, context);    // [b, s, hidden]
        return Norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>Main blocks [<paramref name="from"/>, <paramref name="to"/>) over h [batch, seq, hidden]: the whole
    /// body, or one pipeline stage's share of it.</summary>
    public Tensor Run(Tensor h, int from, int to, ForwardContext context)
    {
        if (from < 0 || to > Config.NumHiddenLayers || from > to)
            throw new ArgumentOutOfRangeException(nameof(from), $"blocks [{from}, {to}) not within [0, {Config.NumHiddenLayers})");
        using var scope = NewDisposeScope();
        for (int i = from; i < to; i++)
            h = Layers[i].Forward(h, context);
        return h.MoveToOuterDisposeScope();
    }
}
