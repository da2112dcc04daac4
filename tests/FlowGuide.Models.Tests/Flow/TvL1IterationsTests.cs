using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Flow;

/// <summary>
/// The fused TV-L1 iterations (<see cref="TvL1Iterations"/>) against the plain composition of engine ops they replace
/// (<see cref="ClassicalFlow.IterateComposed"/>): same values and same gradients for every input, and finite differences
/// of the fused op's own backward pass.
/// </summary>
public sealed class TvL1IterationsTests
{
    private static ClassicalFlowOptions Options(float gamma) => ClassicalFlowOptions.Default with { Gamma = gamma };

    /// <summary>Random inputs of one warp: state, rhoC, ig, invThreshold (saturating the threshold on about half the pixels).</summary>
    private static Tensor[] Inputs(ulong seed, int n, int k, int h, int w)
    {
        var rng = new Rng(seed);
        var state = Tensor.Randn(rng, n, 3 * k, h, w).MulScalar(0.5f);
        var rhoC = Tensor.Randn(rng, n, 1, h, w).MulScalar(3f);
        var ig = Tensor.Randn(rng, n, k, h, w).MulScalar(2f);
        var inv = Tensor.Rand(rng, n, 1, h, w).MulScalar(0.5f).AddScalar(0.05f);
        return new[] { state, rhoC, ig, inv };
    }

    [Theory]
    [InlineData(0f, 2, 5, 7, 6)]   // (u, v), odd sizes, two batch elements
    [InlineData(0.4f, 1, 6, 4, 9)] // with the brightness field (K = 3)
    [InlineData(0f, 1, 1, 8, 1)]   // one column
    public void MatchesTheComposedIterationsInValueAndGradient(float gamma, int n, int h, int w, int iterations)
    {
        var options = Options(gamma);
        int k = gamma > 0 ? 3 : 2;
        var xs = Inputs(5, n, k, h, w).Select(t => t.DetachedLeaf()).ToArray();
        var weights = Tensor.Randn(new Rng(6), n, 3 * k, h, w);
        var prm = new TvL1Iterations.Parameters(k, options.Lambda * options.Theta, options.Theta, options.Tau / options.Theta);

        var composed = ClassicalFlow.IterateComposed(options, xs[0], xs[1], xs[2], xs[3], iterations);
        var composedGrads = Autograd.Grad(composed.Mul(weights).Sum(), xs);
        var fused = TvL1Iterations.Run(xs[0], xs[1], xs[2], xs[3], prm, iterations);
        var fusedGrads = Autograd.Grad(fused.Mul(weights).Sum(), xs);

        FlowTestUtil.AssertClose(composed, fused, 1e-5, "state");
        string[] names = { "state", "rhoC", "ig", "invThreshold" };
        for (int i = 0; i < xs.Length; i++) FlowTestUtil.AssertClose(composedGrads[i], fusedGrads[i], 1e-4, $"d/d{names[i]}");
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        const int k = 2, h = 4, w = 5, iterations = 3;
        var options = Options(0f);
        var prm = new TvL1Iterations.Parameters(k, options.Lambda * options.Theta, options.Theta, options.Tau / options.Theta);
        var xs = Inputs(7, 1, k, h, w);
        var weights = Tensor.Randn(new Rng(8), 1, 3 * k, h, w);

        double Loss()
        {
            using var _ = GradMode.NoGrad();
            var o = TvL1Iterations.Run(xs[0], xs[1], xs[2], xs[3], prm, iterations).Span; var wd = weights.Span;
            double s = 0;
            for (int i = 0; i < o.Length; i++) s += (double)o[i] * wd[i];
            return s;
        }

        var leaves = xs.Select(t => t.DetachedLeaf()).ToArray();
        var grads = Autograd.Grad(TvL1Iterations.Run(leaves[0], leaves[1], leaves[2], leaves[3], prm, iterations).Mul(weights).Sum(), leaves);
        // piecewise smooth (the threshold's clamp): each sample is compared with the closest of central, left and right differences
        const float eps = 1e-3f;
        double l0 = Loss();
        for (int t = 0; t < xs.Length; t++)
        {
            var sp = xs[t].Span;
            double num = 0, den = 0;
            for (int i = 0; i < sp.Length; i++)
            {
                float old = sp[i];
                sp[i] = old + eps; double lp = Loss();
                sp[i] = old - eps; double lm = Loss();
                sp[i] = old;
                double central = (lp - lm) / (2 * eps), right = (lp - l0) / eps, left = (l0 - lm) / eps, ad = grads[t].Span[i];
                double err = Math.Min(Math.Abs(central - ad), Math.Min(Math.Abs(right - ad), Math.Abs(left - ad)));
                num += err * err;
                den += central * central;
            }
            Assert.True(den > 1e-8, $"input {t}: finite-difference gradient is zero");
            Assert.True(Math.Sqrt(num / den) < 0.01, $"input {t}: relative gradient error {Math.Sqrt(num / den)}");
        }
    }

    [Fact]
    public void ZeroIterationsIsTheIdentityAndBadShapesAreRefused()
    {
        var xs = Inputs(9, 1, 2, 3, 3);
        var prm = new TvL1Iterations.Parameters(2, 0.045f, 0.3f, 0.25f / 0.3f);
        Assert.Equal(xs[0].Span.ToArray(), TvL1Iterations.Run(xs[0], xs[1], xs[2], xs[3], prm, 0).Span.ToArray());
        var ex = Assert.Throws<ArgumentException>(() => TvL1Iterations.Run(xs[0], xs[1], xs[1], xs[3], prm, 1));
        Assert.Contains("ig", ex.Message);
        Assert.Throws<ArgumentException>(() => TvL1Iterations.Run(xs[1], xs[1], xs[2], xs[3], prm, 1));
    }
}

/// <summary>
/// Tests that change <see cref="Tensors.Kernels.Parallelism.NumThreads"/>, a process-wide setting: they run alone, so
/// that no other test computes under a thread count it did not choose.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    public const string Name = "Process-wide thread count";
}

[Collection(ThreadCountCollection.Name)]
public sealed class TvL1IterationsThreadTests
{
    /// <summary>
    /// One large batch element is split by rows across threads (forward, the backward's recomputation and its four
    /// passes); each pass reads nothing another row of it writes, so one and two threads give identical bits.
    /// </summary>
    [Fact]
    public void RowSplitGivesTheSameBitsAsOneThread()
    {
        const int k = 2, h = 220, w = 160; // 35,200 pixels: split in row chunks of at least 2,048 pixels, one per thread
        var prm = new TvL1Iterations.Parameters(k, 0.045f, 0.3f, 0.25f / 0.3f);
        var rng = new Rng(21);
        var xs = new[]
        {
            Tensor.Randn(rng, 1, 3 * k, h, w).MulScalar(0.5f), Tensor.Randn(rng, 1, 1, h, w).MulScalar(3f),
            Tensor.Randn(rng, 1, k, h, w).MulScalar(2f), Tensor.Rand(rng, 1, 1, h, w).MulScalar(0.5f).AddScalar(0.05f),
        };
        var weights = Tensor.Randn(new Rng(22), 1, 3 * k, h, w);
        (float[] Out, float[][] Grads) Run(int threads)
        {
            int old = Tensors.Kernels.Parallelism.NumThreads;
            Tensors.Kernels.Parallelism.NumThreads = threads;
            try
            {
                var leaves = xs.Select(t => t.DetachedLeaf()).ToArray();
                var o = TvL1Iterations.Run(leaves[0], leaves[1], leaves[2], leaves[3], prm, 4);
                var g = Autograd.Grad(o.Mul(weights).Sum(), leaves);
                return (o.Span.ToArray(), g.Select(t => t.Span.ToArray()).ToArray());
            }
            finally { Tensors.Kernels.Parallelism.NumThreads = old; }
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one.Out, two.Out);
        for (int i = 0; i < one.Grads.Length; i++) Assert.Equal(one.Grads[i], two.Grads[i]);
    }
}
