using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

[CollectionDefinition("Serial memory", DisableParallelization = true)]
public sealed class SerialMemoryCollection { }

/// <summary>Live-buffer accounting: a no-grad forward through N blocks, one scope per block, holds a constant peak.</summary>
[Collection("Serial memory")]
public class MemoryTests
{
    private sealed class MlpBlock(int seed, int width)
    {
        private readonly Tensor _w1 = Randn(seed, 4 * width, width) * 0.05f;
        private readonly Tensor _w2 = Randn(seed + 1, width, 4 * width) * 0.05f;

        public Tensor Forward(Tensor x) => x + Ops.Linear(Ops.Gelu(Ops.Linear(x, _w1)), _w2);
    }

    private static long PeakForward(int blocks)
    {
        var stack = Enumerable.Range(0, blocks).Select(i => new MlpBlock(10 * i, 64)).ToArray();
        var input = Randn(99, 256, 64);
        var x = input;
        GC.Collect(); GC.WaitForPendingFinalizers();
        BufferPool.ResetPeak();
        long start = BufferPool.LiveBytes;
        using (GradMode.NoGrad())
        {
            foreach (var b in stack)
            {
                using var scope = new TensorScope();
                var y = scope.Keep(b.Forward(x));
                if (x != input) x.Dispose(); // the previous activation is done with: back to the pool now, not at the next GC
                x = y;
            }
        }
        return BufferPool.PeakLiveBytes - start;
    }

    [Fact]
    public void NoGradForwardPeakDoesNotGrowWithDepth()
    {
        long p2 = PeakForward(2);
        long p16 = PeakForward(16);
        // Each block's temporaries (the 256x256 hidden activation) return to the pool before the next block starts.
        Assert.True(p16 <= p2 * 1.05 + 4096, $"peak for 16 blocks {p16} B vs 2 blocks {p2} B");
        Assert.True(p2 > 256 * 256 * 4, $"peak {p2} B is implausibly small: accounting is broken");
    }

    [Fact]
    public void NoGradForwardRecordsNoGraph()
    {
        var w = Leaf(Randn(1, 8, 8));
        using var _ = GradMode.NoGrad();
        var y = Ops.Linear(Randn(2, 4, 8), w);
        Assert.Null(y.GradFn);
    }
}

/// <summary>
/// Tests that change <see cref="Kernels.Parallelism.NumThreads"/>, a process-wide setting (BLAS included): they run alone,
/// so that no other test computes under a thread count it did not choose.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    public const string Name = "Process-wide thread count";
}
