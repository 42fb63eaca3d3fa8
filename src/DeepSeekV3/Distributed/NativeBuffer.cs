using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Distributed;

/// <summary>
/// Elements of T in memory that does not move (a CPU tensor's storage, or native allocations), for non-blocking
/// communication: a span cannot outlive the call that made it, an address can. The owner keeps the memory alive.
/// </summary>
public readonly unsafe struct NativeBuffer<T> where T : unmanaged
{
    public NativeBuffer(nint address, long length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        Address = address;
        Length = length;
    }

    public nint Address { get; }
    public long Length { get; }

    public Span<T> AsSpan() => new((void*)Address, checked((int)Length));

    public NativeBuffer<T> Slice(long start, long length)
    {
        if (start < 0 || length < 0 || start + length > Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"[{start}, {start + length}) outside [0, {Length})");
        return new NativeBuffer<T>(Address + (nint)(start * sizeof(T)), length);
    }

    /// <summary>The storage of a contiguous CPU tensor whose element size is T's (no copy).</summary>
    public static NativeBuffer<T> Of(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU)
            throw new ArgumentException($"communication needs a CPU tensor; found one on {tensor.device}");
        if (!tensor.is_contiguous())
            throw new ArgumentException("communication needs a contiguous tensor");
        if (tensor.ElementSize != sizeof(T))
            throw new ArgumentException($"tensor of {tensor.dtype} ({tensor.ElementSize} bytes) seen as {typeof(T).Name} ({sizeof(T)} bytes)");
        if (tensor.numel() == 0) return new NativeBuffer<T>(0, 0);
        fixed (byte* p = tensor.bytes)
            return new NativeBuffer<T>((nint)p, tensor.numel());
    }
}
