using TorchSharp;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The constant <see cref="Scalar"/>s the library passes to LibTorch, made once and never freed. A Scalar from C#'s
/// implicit conversion (<c>t.clamp_min(0)</c>) is left to the finalizer, which may free it while the native call it
/// was passed to still reads it (only its IntPtr is in flight): a corrupt Scalar in LibTorch, once in many thousand
/// steps under garbage-collection pressure. So every Scalar here is either one of these or a value made with
/// <c>ToScalar()</c> in a <c>using</c>; <c>ScalarConversionTests</c> checks the library makes none implicitly.
/// </summary>
internal static class Scalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar OneDouble = 1.0.ToScalar();
    public static readonly Scalar Half = 0.5.ToScalar();
    public static readonly Scalar Two = 2.ToScalar();
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();

    /// <summary><see cref="Training.Data.PackedDataset.IgnoredLabel"/>, the cross-entropy's ignore_index.</summary>
    public static readonly Scalar IgnoredLabel = Training.Data.PackedDataset.IgnoredLabel.ToScalar();

    /// <summary>0, 1, …, count − 1 (int64) on <paramref name="device"/>.</summary>
    public static torch.Tensor Arange(long count, torch.Device? device = null)
    {
        using var end = count.ToScalar();
        return torch.arange(end, dtype: torch.ScalarType.Int64, device: device);
    }
}
