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

    private static MlpBlock[] Stack(int blocks) => Enumerable.Range(0, blocks).Select(i => new MlpBlock(10 * i, 64)).ToArray();

    private static long PeakForward(int blocks)
    {
        var stack = Stack(blocks);
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
    public void TensorsMadeWhileAScopeIsSuspendedOutliveIt()
    {
        Tensor inside, kept;
        using (var scope = new TensorScope())
        {
            inside = Randn(1, 4, 4);
            using (TensorScope.Suspend()) kept = Randn(2, 4, 4);
            var again = Randn(3, 4, 4);            // the scope is current again once the suspension ends
            Assert.Equal(16, again.Span.Length);
        }
        Assert.Throws<ObjectDisposedException>(() => inside.Span.Length);
        Assert.Equal(Randn(2, 4, 4).ToArray(), kept.ToArray());
        // a scope opened inside a suspension must be closed before it ends
        var s = TensorScope.Suspend();
        var open = new TensorScope();
        Assert.Throws<InvalidOperationException>(() => s.Dispose());
        open.Dispose();
        s.Dispose();
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

    /// <summary>
    /// Peak live bytes of <see cref="Autograd.Grad"/> above what the forward pass left live, through a chain of
    /// <paramref name="blocks"/> MLP blocks (frozen weights, gradient for the input only). The garbage collector is held
    /// off during the pass so that only buffers the engine gives back explicitly count as freed.
    /// </summary>
    private static long BackwardTransient(int blocks)
    {
        var stack = Stack(blocks);
        var input = Leaf(Randn(99, 256, 64));
        var x = input;
        foreach (var b in stack) x = b.Forward(x);
        var loss = Ops.Sum(Ops.Mul(x, x));
        GC.Collect(); GC.WaitForPendingFinalizers();
        long afterForward = BufferPool.LiveBytes;
        BufferPool.ResetPeak();
        bool noGc = GC.TryStartNoGCRegion(200L << 20);
        try
        {
            var g = Autograd.Grad(loss, new[] { input })[0];
            Assert.Equal(input.Shape, g.Shape);
        }
        finally
        {
            if (noGc && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
        return BufferPool.PeakLiveBytes - afterForward;
    }

    [Fact]
    public void BackwardGivesGradientBuffersBackAsItGoes()
    {
        long t2 = BackwardTransient(2);
        long t16 = BackwardTransient(16);
        // A block's gradients (at most the 256x256 hidden one and a few 256x64 ones) are dead once the block below has
        // its own; holding all of them until the next collection would make the 16-block pass about 8x the 2-block one.
        Assert.True(t16 <= t2 * 1.25 + 65536, $"backward transient for 16 blocks {t16} B vs 2 blocks {t2} B");
        Assert.True(t2 > 256 * 256 * 4, $"transient {t2} B is implausibly small: accounting is broken");
    }

    [Fact]
    public void EarlyReleaseKeepsWhatTheCallerHolds()
    {
        // x used twice (Add passes one gradient tensor to both inputs), a reshape view, a caller-given gradOutput, a
        // non-leaf target and a leaf whose Grad accumulates: every result stays readable and correct after the pass.
        var x = Leaf(Randn(1, 4, 6));
        var w = Leaf(Randn(2, 6, 6));
        var h = Ops.Matmul(x, w);                       // [4, 6]
        var s = Ops.Add(h, h);                          // both inputs: the same gradient tensor
        var r = Ops.Reshape(Ops.Tanh(s), 24);           // a view of the tanh output's gradient flows back
        var seed = Randn(3, 24);
        var grads = Autograd.Grad(r, new Tensor[] { x, h }, seed);
        float[] seedCopy = seed.ToArray();
        // expected by hand: dL/ds = seed * (1 - tanh^2), dL/dh = 2 dL/ds, dL/dx = dL/dh w^T
        var tanh = s.ToArray().Select(MathF.Tanh).ToArray();
        var dh = seedCopy.Select((v, i) => 2 * v * (1 - tanh[i] * tanh[i])).ToArray();
        AssertClose(dh, grads[1].ToArray(), 1e-5f, 1e-6f, "dh");
        var wv = w.ToArray();
        var dx = new float[24];
        for (int i = 0; i < 4; i++)
            for (int k = 0; k < 6; k++)
                for (int j = 0; j < 6; j++) dx[i * 6 + k] += dh[i * 6 + j] * wv[k * 6 + j];
        AssertClose(dx, grads[0].ToArray(), 1e-5f, 1e-6f, "dx");
        Assert.Equal(seedCopy, seed.ToArray());        // the caller's gradOutput is untouched and readable

        // Backward into leaves twice: the first pass's Grad survives the second and accumulates.
        var loss = Ops.Sum(Ops.MulScalar(Ops.Add(Ops.Matmul(x, w), Ops.Matmul(x, w)), 1.5f));
        Autograd.Backward(loss, retainGraph: true);
        var first = w.Grad!.ToArray();
        Autograd.Backward(loss);
        AssertClose(first.Select(v => 2 * v).ToArray(), w.Grad!.ToArray(), 1e-5f, 1e-6f, "accumulated w.Grad");
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
