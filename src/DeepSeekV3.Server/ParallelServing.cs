using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Server;

/// <summary>
/// What rank 0 of a multi-rank server adds to its engine: the batch's backend (e.g. expert-parallel passes), the
/// lockstep that the other ranks' batches follow, and extra Prometheus lines for /metrics (e.g. expert balance).
/// </summary>
public sealed record ParallelServing(Func<ForwardBackend> Backend, BatchLockstep Lockstep, Func<string, string> Metrics);
