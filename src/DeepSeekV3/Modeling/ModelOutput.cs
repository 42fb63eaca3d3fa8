using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>Logits [batch, seq, vocab] and the final hidden state after model.norm [batch, seq, hidden]
/// (the representation the MTP modules start from). The caller owns both.</summary>
public sealed record ModelOutput(Tensor Logits, Tensor Hidden) : IDisposable
{
    public void Dispose()
    {
        Logits.Dispose();
        Hidden.Dispose();
    }
}
