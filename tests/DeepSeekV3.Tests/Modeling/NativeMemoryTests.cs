using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

[Collection(SerialCollection.Name)]
public class NativeMemoryTests
{
    private static long ResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    [Fact]
    public void Thousand_forward_passes_leave_no_tensors_behind_and_do_not_grow_memory()
    {
        using var model = TinyModels.Create();
        using var tokens = TinyModels.Tokens(2, 16, ModelPresets.Tiny.VocabSize);
        using var _ = no_grad();
        void Pass(int i)
        {
            var mode = i % 2 == 0 ? AttentionMode.Absorbed : AttentionMode.Naive;
            using var output = model.Forward(tokens, new ForwardContext { Mode = mode });
            if (i % 100 == 0)
            {
                // Every 100th pass also decodes through a latent cache and the MTP module.
                using var cache = new ContiguousLatentCache(ModelPresets.Tiny.NumHiddenLayers);
                using var prefill = model.Forward(tokens, new ForwardContext { Cache = cache });
                using var first = tokens.narrow(1, 0, 1);
                using var step = model.Forward(first, new ForwardContext { Cache = cache });
                using var hidden = output.Hidden.narrow(1, 0, 15);
                using var next = tokens.narrow(1, 1, 15);
                using var mtp = model.ForwardMtp(1, hidden, next);
            }
        }
        for (int i = 0; i < 50; i++) Pass(i);  // warm-up: allocator caches, lazy initialization
        GC.Collect();
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long residentBefore = ResidentBytes();

        for (int i = 0; i < 1000; i++) Pass(i);
        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.Equal(liveBefore, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        long growth = ResidentBytes() - residentBefore;
        // One leaked [2,16,512] logits tensor per pass alone would be 64 MB over 1000 passes.
        Assert.True(growth < 24 << 20, $"resident memory grew by {growth / 1048576.0:F1} MiB");
    }
}
