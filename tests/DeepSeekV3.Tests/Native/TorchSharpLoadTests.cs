using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Native;

public class TorchSharpLoadTests
{
    [Fact]
    public void TorchSharp_loads_and_multiplies_matrices()
    {
        // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]], by hand.
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = tensor(new float[] { 5, 6, 7, 8 }).reshape(2, 2);
        using var c = matmul(a, b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }
}
