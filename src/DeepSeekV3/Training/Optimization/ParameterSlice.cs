using System.Globalization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Optimization;

/// <summary>
/// Elements [Offset, Offset + Length) of a parameter in its flat (row-major) order: the unit of optimizer state.
/// One process updates whole parameters; under ZeRO-1 each data-parallel rank updates a contiguous slice of the
/// flattened parameters, and a slice boundary may fall inside a tensor.
/// </summary>
public sealed record ParameterSlice(string Name, Parameter Parameter, long Offset, long Length)
{
    public static ParameterSlice Whole(string name, Parameter parameter) => new(name, parameter, 0, parameter.numel());

    public bool IsWhole => Offset == 0 && Length == Parameter.numel();

    /// <summary>The state tensor name: "exp_avg.NAME" for a whole parameter (shaped like it), "exp_avg.NAME@OFFSET"
    /// for a slice (1-D), so a one-process checkpoint keeps the names it always had.</summary>
    public string StateName(string prefix) => IsWhole
        ? $"{prefix}.{Name}"
        : string.Create(CultureInfo.InvariantCulture, $"{prefix}.{Name}@{Offset}");

    /// <summary>A view of <paramref name="full"/> (the parameter, or its gradient) restricted to this slice:
    /// the tensor itself when whole, else a 1-D view sharing its memory. Owned by the caller's dispose scope.</summary>
    public Tensor Of(Tensor full) => IsWhole ? full.alias() : full.view(-1).narrow(0, Offset, Length);

    /// <summary>The slice's shape in optimizer state.</summary>
    public long[] StateShape => IsWhole ? Parameter.shape : [Length];
}
