using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>The <c>shared_head</c> of an MTP module: its own RMSNorm before the (shared) output head.</summary>
public sealed class MtpSharedHead : nn.Module
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    public MtpSharedHead(ModelConfig config) : base(nameof(MtpSharedHead))
    {
        Norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        register_module("norm", Norm);
    }

    public RmsNorm Norm { get; }
}
