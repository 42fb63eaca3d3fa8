using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Distributed;

/// <summary>
/// Autograd's view of the start of a <see cref="TokenExchange"/>: apply(send, exchange) starts the all-to-all-v and
/// returns the receive tensor, still being filled; <see cref="TokenExchangeEnd"/> must follow before it is read.
/// Backward is the reverse exchange, which <see cref="TokenExchangeEnd"/>'s backward has already started: here it
/// only waits. Splitting one differentiable collective into two nodes is what lets computation run while the
/// transfer is on the wire, in forward and in backward.
/// </summary>
internal sealed class TokenExchangeBegin : autograd.SingleTensorFunction<TokenExchangeBegin>
{
    public override string Name => nameof(TokenExchangeBegin);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var exchange = (TokenExchange)vars[1];
        ctx.save_data("exchange", exchange);
        return exchange.Begin((Tensor)vars[0]);
    }

    // grad_output is the placeholder TokenExchangeEnd passed on; the real gradient comes back over the wire.
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output) =>
        [((TokenExchange)ctx.get_data("exchange")).WaitReverse(), null!];
}
