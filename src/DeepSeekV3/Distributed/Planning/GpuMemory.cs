namespace DeepSeekV3.Distributed.Planning;

/// <summary>
/// Memory of the pipeline rank that needs the most (<see cref="Rank"/>), per GPU, in bytes: BF16 weights, FP32
/// gradients, the ZeRO-1 share of FP32 master weights and BF16 AdamW moments, and the activations of its peak
/// in-flight micro-batches (<see cref="PeakMicroBatches"/> stage-micro-batches, from the simulated schedule), each
/// counted at the size of the rank's heavier stage copy (an upper bound).
/// </summary>
public sealed record GpuMemory(
    int Rank,
    double Parameters,
    double ExpertParameters,
    double WeightBytes,
    double GradientBytes,
    double OptimizerBytes,
    int PeakMicroBatches,
    double ActivationBytes)
{
    public double TotalBytes => WeightBytes + GradientBytes + OptimizerBytes + ActivationBytes;
}
