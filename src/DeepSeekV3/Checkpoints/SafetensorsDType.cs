namespace DeepSeekV3.Checkpoints;

/// <summary>
/// Element types a safetensors header can name; member names are the exact header strings ("BF16", "F8_E4M3"...)
/// so a reader can grep a header value and land here. Only the types LibTorch can hold are listed.
/// Sizes and torch mappings: <see cref="SafetensorsDTypes"/>.
/// </summary>
public enum SafetensorsDType
{
    BOOL,
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F16,
    BF16,
    F32,
    F64,
    /// <summary>float8_e4m3fn, DeepSeek-V3's weight format.</summary>
    F8_E4M3,
    /// <summary>float8_e5m2.</summary>
    F8_E5M2,
}
