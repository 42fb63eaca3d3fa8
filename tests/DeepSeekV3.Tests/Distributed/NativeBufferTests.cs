using DeepSeekV3.Distributed;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Distributed;

public sealed class NativeBufferTests
{
    [Fact]
    public void A_buffer_over_a_tensor_is_its_storage_not_a_copy()
    {
        using var tensor = zeros(2, 3);
        var buffer = NativeBuffer<float>.Of(tensor);
        Assert.Equal(6, buffer.Length);
        buffer.AsSpan()[4] = 7f;
        buffer.Slice(5, 1).AsSpan()[0] = -1f;
        Assert.Equal(7f, tensor[1, 1].item<float>());
        Assert.Equal(-1f, tensor[1, 2].item<float>());
    }

    [Fact]
    public void Tensors_that_cannot_be_sent_in_place_are_refused()
    {
        using var tensor = zeros(3, 4);
        using var transposed = tensor.t();
        Assert.Throws<ArgumentException>(() => NativeBuffer<float>.Of(transposed));
        Assert.Throws<ArgumentException>(() => NativeBuffer<double>.Of(tensor));
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeBuffer<float>.Of(tensor).Slice(10, 3));
    }
}
