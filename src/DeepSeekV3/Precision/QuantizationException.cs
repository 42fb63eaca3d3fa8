namespace DeepSeekV3.Precision;

/// <summary>
/// A tensor handed to a quantizer or dequantizer has the wrong rank, dtype or scale grid.
/// The message names the tensor (when known) and the expected versus found value.
/// </summary>
public sealed class QuantizationException : DeepSeekV3Exception
{
    public QuantizationException(string message) : base(message) { }
}
