namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// A typed GGUF metadata value. Scalars hold their CLR value (uint for UInt32, float for Float32, ...); arrays hold a
/// CLR array of the element type (string[] for String, int[] for Int32, ...) and name it in
/// <see cref="ElementType"/>. The type matters to llama.cpp: it rejects a key stored with another type than it reads.
/// </summary>
public sealed record GgufValue
{
    private GgufValue(GgufValueType type, object value, GgufValueType? elementType = null)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }

    public object Value { get; }

    /// <summary>For arrays, the type of every element; null for scalars.</summary>
    public GgufValueType? ElementType { get; }

    public static GgufValue UInt32(uint value) => new(GgufValueType.UInt32, value);
    public static GgufValue Int32(int value) => new(GgufValueType.Int32, value);
    public static GgufValue Float32(float value) => new(GgufValueType.Float32, value);
    public static GgufValue Bool(bool value) => new(GgufValueType.Bool, value);
    public static GgufValue String(string value) => new(GgufValueType.String, value);
    public static GgufValue StringArray(IEnumerable<string> values) => new(GgufValueType.Array, values.ToArray(), GgufValueType.String);
    public static GgufValue Int32Array(IEnumerable<int> values) => new(GgufValueType.Array, values.ToArray(), GgufValueType.Int32);

    /// <summary>Any scalar or array read from a file; <paramref name="value"/> must already have the CLR type of
    /// <paramref name="type"/> (or of <paramref name="elementType"/>'s array).</summary>
    internal static GgufValue FromFile(GgufValueType type, object value, GgufValueType? elementType = null) =>
        new(type, value, elementType);

    public uint AsUInt32() => As<uint>(GgufValueType.UInt32);
    public int AsInt32() => As<int>(GgufValueType.Int32);
    public float AsFloat32() => As<float>(GgufValueType.Float32);
    public bool AsBool() => As<bool>(GgufValueType.Bool);
    public string AsString() => As<string>(GgufValueType.String);

    /// <summary>The elements of an array value of <paramref name="elementType"/>.</summary>
    public T[] AsArray<T>(GgufValueType elementType) =>
        Type == GgufValueType.Array && ElementType == elementType && Value is T[] values
            ? values
            : throw new InvalidOperationException($"expected an array of {elementType}, found {Describe()}");

    private T As<T>(GgufValueType expected) =>
        Type == expected && Value is T value ? value : throw new InvalidOperationException($"expected {expected}, found {Describe()}");

    private string Describe() => Type == GgufValueType.Array ? $"an array of {ElementType}" : Type.ToString();

    public override string ToString() => Value is Array array ? $"[{ElementType} × {array.Length}]" : $"{Type} {Value}";
}
