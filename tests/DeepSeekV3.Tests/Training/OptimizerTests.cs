using DeepSeekV3.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class OptimizerTests
{
    [Fact]
    public void AdamW_step_matches_a_hand_computed_update()
    {
        using var w = new TorchSharp.Modules.Parameter(tensor(new float[] { 1.0f, -2.0f, 0.5f, 3.0f }, [2, 2]));
        w.grad = tensor(new float[] { 0.1f, -0.2f, 0.0f, 0.3f }, [2, 2]);
        using var adam = new AdamW([("w", w)], new AdamWOptions { Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8, WeightDecay = 0.1 });
        adam.Step(lr: 0.01);
        adam.Step(lr: 0.01);                            // same gradient again

        // Two steps by hand, in double: p ← p(1 − lr·wd) − lr·m̂/(√v̂ + ε).
        double[] p = [1.0, -2.0, 0.5, 3.0], g = [0.1, -0.2, 0.0, 0.3];
        double[] m = new double[4], v = new double[4];
        for (int t = 1; t <= 2; t++)
            for (int i = 0; i < 4; i++)
            {
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
                double mHat = m[i] / (1 - Math.Pow(0.9, t)), vHat = v[i] / (1 - Math.Pow(0.95, t));
                p[i] = p[i] * (1 - 0.01 * 0.1) - 0.01 * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
        var actual = w.detach().reshape(-1).data<float>().ToArray();
        for (int i = 0; i < 4; i++)
            Assert.Equal(p[i], actual[i], 5);
        Assert.Equal(2, adam.StepCount);
    }

    [Fact]
    public void AdamW_does_not_decay_vectors_and_can_store_moments_in_bf16()
    {
        using var gain = new TorchSharp.Modules.Parameter(ones(3));
        gain.grad = zeros(3);
        using var adam = new AdamW([("norm.weight", gain)], new AdamWOptions { MomentDtype = ScalarType.BFloat16 });
        adam.Step(lr: 0.1);
        Assert.Equal(new[] { 1f, 1f, 1f }, gain.detach().data<float>().ToArray());
        Assert.All(adam.StateTensors(), t => Assert.Equal(ScalarType.BFloat16, t.Tensor.dtype));
    }

    [Fact]
    public void Gradient_clipping_scales_to_the_max_norm_and_leaves_small_gradients_alone()
    {
        using var a = new TorchSharp.Modules.Parameter(zeros(2));
        using var b = new TorchSharp.Modules.Parameter(zeros(1));
        a.grad = tensor(new float[] { 3, 0 });
        b.grad = tensor(new float[] { 4 });
        double norm = GradientClipping.ClipByGlobalNorm([a, b], 1.0);
        Assert.Equal(5.0, norm, 6);
        Assert.Equal(0.6, a.grad!.data<float>()[0], 5);
        Assert.Equal(0.8, b.grad!.data<float>()[0], 5);

        double small = GradientClipping.ClipByGlobalNorm([a, b], 10.0);
        Assert.Equal(1.0, small, 5);
        Assert.Equal(0.6, a.grad!.data<float>()[0], 5);
    }

    [Fact]
    public void Gradient_clipping_reports_a_non_finite_norm_without_touching_gradients()
    {
        using var a = new TorchSharp.Modules.Parameter(zeros(2));
        a.grad = tensor(new float[] { float.NaN, 1 });
        Assert.False(double.IsFinite(GradientClipping.ClipByGlobalNorm([a], 1.0)));
        Assert.Equal(1f, a.grad!.data<float>()[1]);
    }
}
