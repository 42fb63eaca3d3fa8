using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>
/// The zero-bubble split of backward: with the projections' weight gradients deferred, backward (B) must still give
/// every input gradient and every other parameter's gradient, leave the projection weights without one, and the
/// deferred steps (W) must then complete exactly the gradients of an ordinary backward.
/// </summary>
public sealed class WeightGradientQueueTests
{
    private const double Tolerance = 1e-5;

    [Fact]
    public void Deferred_weight_gradients_complete_the_ordinary_gradients_of_every_parameter()
    {
        using var model = TinyModels.Create();
        model.train();
        using var tokens = TinyModels.Tokens(2, 12, ModelPresets.Tiny.VocabSize);
        var expected = Gradients(model, tokens, queue: null, out var expectedInput);

        var queue = new WeightGradientQueue();
        // B of two micro-batches with their weight halves deferred, then W twice (oldest first).
        var parts = new List<Tensor>();
        var inputs = new List<Tensor>();
        model.zero_grad();
        foreach (var half in new[] { tokens.narrow(0, 0, 1), tokens.narrow(0, 1, 1) })
        {
            var (loss, input) = Loss(model, half, queue);
            queue.Deferring = true;
            (loss / 2).backward();
            queue.Deferring = false;
            queue.Seal();
            inputs.Add(input.grad!.clone());
        }
        var projections = model.modules().OfType<Projection>().ToList();
        Assert.NotEmpty(projections);
        Assert.All(projections, p => Assert.Null(p.Weight.grad));                        // B left every W for later
        Assert.NotNull(model.Model.Layers[0].InputLayerNorm.parameters().First().grad); // norms got theirs in B
        Assert.Equal(2, queue.Pending);
        queue.RunNext();
        queue.RunNext();
        Assert.Equal(0, queue.Pending);

        AssertClose(expectedInput, cat(inputs, 0), "input gradient");
        foreach (var (name, p) in model.named_parameters())
        {
            if (!expected.TryGetValue(name, out var want))
            {
                Assert.Null(p.grad);
                continue;
            }
            Assert.True(p.grad is not null, $"{name} has no gradient after W");
            AssertClose(want, p.grad!, name);
        }
        Assert.Throws<InvalidOperationException>(queue.RunNext);
    }

    [Fact]
    public void Without_deferral_the_queue_computes_weight_gradients_in_backward_and_stays_empty()
    {
        using var model = TinyModels.Create();
        model.train();
        using var tokens = TinyModels.Tokens(2, 10, ModelPresets.Tiny.VocabSize, seed: 3);
        var expected = Gradients(model, tokens, queue: null, out _);
        var queue = new WeightGradientQueue();
        var actual = Gradients(model, tokens, queue, out _);
        Assert.Equal(0, queue.Pending);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, want) in expected)
            AssertClose(want, actual[name], name);
    }

    /// <summary>Mean next-token cross-entropy of a causal LM over <paramref name="tokens"/>, from an embedding the test
    /// can take the gradient of.</summary>
    private static (Tensor Loss, Tensor Input) Loss(DeepSeekV3ForCausalLM model, Tensor tokens, WeightGradientQueue? queue)
    {
        foreach (var projection in model.modules().OfType<Projection>())
            projection.WeightGradients = queue;
        long length = tokens.shape[1] - 1;
        var input = model.Model.EmbedTokens.forward(tokens.narrow(1, 0, length)).detach().requires_grad_(true);
        var context = new ForwardContext { Mode = AttentionMode.Naive };
        var output = model.Head(model.Model.Run(input, 0, model.Config.NumHiddenLayers, context));
        var loss = nn.functional.cross_entropy(output.Logits.reshape(-1, output.Logits.shape[^1]), tokens.narrow(1, 1, length).reshape(-1));
        return (loss, input);
    }

    private static Dictionary<string, Tensor> Gradients(DeepSeekV3ForCausalLM model, Tensor tokens, WeightGradientQueue? queue, out Tensor input)
    {
        model.zero_grad();
        var (loss, x) = Loss(model, tokens, queue);
        loss.backward();
        input = x.grad!.clone();
        var grads = model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        model.zero_grad();
        return grads;
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        double scale = Math.Max(1e-3, expected.abs().max().item<float>());
        double worst = (expected - actual).abs().max().item<float>();
        Assert.True(worst <= Tolerance * scale, $"{what}: differs by {worst:G3} (largest {scale:G3})");
    }
}
