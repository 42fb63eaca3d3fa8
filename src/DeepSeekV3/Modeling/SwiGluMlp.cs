using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// SwiGLU feed-forward (Shazeer 2020, arXiv 2002.05202; HF's <c>DeepseekV3MLP</c>): down_proj(silu(gate_proj(x)) ⊙ up_proj(x)). Used for the dense FFN of the first
/// layers, for every routed expert and for the shared experts. Checkpoint names: gate_proj, up_proj, down_proj.
/// </summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    public SwiGluMlp(long hiddenSize, long intermediateSize) : base(nameof(SwiGluMlp))
    {
        GateProj = new Projection(hiddenSize, intermediateSize);
        UpProj = new Projection(hiddenSize, intermediateSize);
        DownProj = new Projection(intermediateSize, hiddenSize);
        register_module("gate_proj", GateProj);
        register_module("up_proj", UpProj);
        register_module("down_proj", DownProj);
    }

    public Projection GateProj { get; }
    public Projection UpProj { get; }
    public Projection DownProj { get; }

    /// <summary>x: [..., hidden] → [..., hidden].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var activated = nn.functional.silu(GateProj.forward(x)) * UpProj.forward(x);  // [..., intermediate]
        return DownProj.forward(activated).MoveToOuterDisposeScope();
    }
}
