using System.Diagnostics;
using DeepSeekV3.Modeling;

namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// Prefill workers with their own queue, apart from the decode loop: each worker thread owns a
/// <see cref="GenerationBatch"/> (its own backend and cache) on the shared, read-only model, takes prompts in arrival
/// order, prefills one at a time, and hands back a <see cref="PrefilledRequest"/> (rows, first token, sampler state).
/// A <see cref="ServingEngine"/> made with these workers admits the handed-over requests into its decode batch, so a
/// long prompt occupies a prefill worker instead of stalling every decoding stream. A prefill server
/// (<c>dsv3 serve --role prefill</c>) runs the same workers and sends their output over the wire.
/// </summary>
public sealed class PrefillWorkers : IPrefillSource, IDisposable
{
    private readonly object _gate = new();                 // guards _queue and _stopping
    private readonly Queue<Job> _queue = new();
    private readonly Thread[] _threads;
    private readonly GenerationBatch[] _batches;
    private readonly int _maxQueue;
    private bool _stopping;
    private long _prefilled, _rowBytes;
    private int _busy;

    private sealed record Job(GenerationRequest Request, TaskCompletionSource<PrefilledRequest> Result, CancellationToken Cancellation)
    {
        public Stopwatch Waiting { get; } = Stopwatch.StartNew();
    }

    /// <param name="workers">Prefill threads, each with its own backend and cache.</param>
    /// <param name="maxQueue">Prompts that may wait for a worker; one more is refused (<see cref="ServerBusyException"/>).</param>
    /// <param name="speculative">Prefill for MTP speculative decoding: the MTP module's cache entries and the first
    /// draft go with each prefill (<see cref="PrefilledRequest.Draft"/>).</param>
    public PrefillWorkers(DeepSeekV3ForCausalLM model, int workers = 1, int maxQueue = 1024, int blockSize = 64, bool fused = true,
        bool speculative = false)
    {
        if (workers < 1) throw new InvalidArgumentException($"prefill workers {workers} must be >= 1");
        if (maxQueue < 1) throw new InvalidArgumentException($"prefill queue {maxQueue} must be >= 1");
        _maxQueue = maxQueue;
        Identity = ModelIdentity.Of(model);
        _batches = new GenerationBatch[workers];
        _threads = new Thread[workers];
        for (int i = 0; i < workers; i++)
        {
            _batches[i] = new GenerationBatch(model, blockSize: blockSize, fused: fused, speculative: speculative);
            var batch = _batches[i];
            _threads[i] = new Thread(() => Run(batch)) { Name = $"dsv3 prefill worker {i}", IsBackground = true };
        }
        foreach (var thread in _threads) thread.Start();
    }

    /// <summary>The model's identity (<see cref="ModelIdentity"/>), stamped on every prefill.</summary>
    public string Identity { get; }

    public int Workers => _threads.Length;

    /// <summary>Prompts waiting for a worker.</summary>
    public int Queued
    {
        get { lock (_gate) return _queue.Count; }
    }

    /// <summary>Workers prefilling now.</summary>
    public int Busy => Volatile.Read(ref _busy);

    /// <summary>Prefills handed back, and the cache-row bytes they carried.</summary>
    public long Prefilled => Interlocked.Read(ref _prefilled);

    public long RowBytes => Interlocked.Read(ref _rowBytes);

    /// <summary>Time a prompt waited for a worker, and the prefill pass itself.</summary>
    public Histogram QueueTime { get; } = new(Histogram.LatencySeconds);

    public Histogram PrefillTime { get; } = new(Histogram.LatencySeconds);

    /// <summary>Checks a request at once (prompt, sampling), as the decode side's engine does.</summary>
    public void Validate(GenerationRequest request) => _batches[0].Validate(request);

    public Task<PrefilledRequest> PrefillAsync(GenerationRequest request, CancellationToken cancellation)
    {
        var job = new Job(request, new TaskCompletionSource<PrefilledRequest>(TaskCreationOptions.RunContinuationsAsynchronously), cancellation);
        lock (_gate)
        {
            if (_stopping) throw new ServerBusyException("the prefill workers are shutting down");
            if (_queue.Count >= _maxQueue)
                throw new ServerBusyException($"{_queue.Count} prompts are already waiting for prefill (the limit); try again later");
            _queue.Enqueue(job);
            Monitor.Pulse(_gate);
        }
        return job.Result.Task;
    }

    private void Run(GenerationBatch batch)
    {
        while (true)
        {
            Job job;
            lock (_gate)
            {
                while (!_stopping && _queue.Count == 0) Monitor.Wait(_gate);
                if (_stopping) break;
                job = _queue.Dequeue();
            }
            if (job.Cancellation.IsCancellationRequested)
            {
                job.Result.TrySetCanceled(job.Cancellation);
                continue;
            }
            QueueTime.Observe(job.Waiting.Elapsed.TotalSeconds);
            var clock = Stopwatch.StartNew();
            Interlocked.Increment(ref _busy);
            try
            {
                var prefilled = batch.Prefill(job.Request, Identity);
                PrefillTime.Observe(clock.Elapsed.TotalSeconds);
                Interlocked.Increment(ref _prefilled);
                Interlocked.Add(ref _rowBytes, prefilled.Rows.Length);
                job.Result.TrySetResult(prefilled);
            }
            catch (Exception e)
            {
                job.Result.TrySetException(e);
            }
            finally
            {
                Interlocked.Decrement(ref _busy);
            }
        }
    }

    /// <summary>Stops the workers after their current prefill; prompts still queued end cancelled.</summary>
    public void Dispose()
    {
        List<Job> left;
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            left = [.. _queue];
            _queue.Clear();
            Monitor.PulseAll(_gate);
        }
        foreach (var job in left) job.Result.TrySetCanceled();
        foreach (var thread in _threads) thread.Join();
        foreach (var batch in _batches) batch.Dispose();
    }
}
