using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Distributed;

/// <summary>
/// Autograd's view of the end of a <see cref="TokenExchange"/>: apply(received, exchange) waits for the transfer
/// and returns the received rows. Backward starts the reverse exchange of the incoming gradient and passes that
/// gradient on unchanged as a placeholder: <see cref="TokenExchangeBegin"/>'s backward (the only consumer) waits for
/// the reverse transfer and returns its result instead, so whatever autograd runs in between overlaps it.
/// </summary>
internal sealed class TokenExchangeEnd : autograd.SingleTensorFunction<TokenExchangeEnd>
{
    public override string Name => nameof(TokenExchangeEnd);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var exchange = (TokenExchange)vars[1];
        ctx.save_data("exchange", exchange);
        exchange.Wait();
        return ((Tensor)vars[0]).alias();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        ((TokenExchange)ctx.get_data("exchange")).BeginReverse(grad_output);
        return [grad_output, null!];
    }
}
