using DeepSeekV3.Precision;
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

    /// <summary>Set under FP8 training for MoE experts: the SwiGLU keeps its inputs in FP8 for backward and recomputes
    /// itself there (<see cref="Fp8CachedSwiGlu"/>); null: LibTorch's autograd keeps them in float32.</summary>
    internal Fp8Scaling? SwiGluCache { get; set; }

    /// <summary>x: [..., hidden] → [..., hidden].</summary>
    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>x: [T, hidden] → [T, hidden], x also given in FP8 by the MoE dispatch (null: not dispatched in FP8),
    /// quantized once and read by both gate_proj and up_proj.</summary>
    internal Tensor Forward(Tensor x, QuantizedMatrix? dispatched)
    {
        using var scope = NewDisposeScope();
        var gate = GateProj.Forward(x, dispatched);                                       // [..., intermediate]
        var up = UpProj.Forward(x, dispatched);
        var activated = SwiGluCache is { } cache && is_grad_enabled() && (gate.requires_grad || up.requires_grad)
            ? Fp8CachedSwiGlu.apply(gate, up, cache)
            : nn.functional.silu(gate) * up;                                              // [..., intermediate]
        return DownProj.forward(activated).MoveToOuterDisposeScope();
    }
}
