using FlowGuide.Models.Flow;
using FlowGuide.Tensors;
using static FlowGuide.Models.Tests.Flow.FlowTestUtil;

namespace FlowGuide.Models.Tests.Flow;

public class ClassicalFlowTests
{
    private static readonly ClassicalFlow Estimator = new(ClassicalFlowOptions.Default with { InputRange = PixelRange.ZeroToOne });

    /// <summary>Frame 1 = frame 2 backward-warped by <paramref name="gt"/>, so gt is exactly the forward flow 1 -> 2.</summary>
    private static Tensor Frame1For(Tensor frame2, Tensor gt)
    {
        using var _ = GradMode.NoGrad();
        return Ops.Warp(frame2, gt, GridPadding.Border);
    }

    [Fact]
    public void IdenticalFramesGiveZeroFlow()
    {
        var f = Texture(1, 40, 48, 1.5f);
        var flow = Estimator.Estimate(f, f);
        Assert.Equal(new Shape(1, 2, 40, 48), flow.Shape);
        Assert.False(flow.RequiresGrad);
        float max = 0;
        foreach (var v in flow.Span) max = Math.Max(max, Math.Abs(v));
        Assert.True(max < 1e-3f, $"max |flow| {max} for identical frames");
    }

    [Fact]
    public void RecoversSubPixelTranslationAndAffineMotionInOneBatch()
    {
        int h = 64, w = 64;
        var tex = Ops.Concat(new[] { Texture(2, h, w, 1.5f), Texture(3, h, w, 2.5f) }, 0);
        var gt = Ops.Concat(new[] { Affine(h, w, 0, 0, 0, 0, 1.3, -0.7), Affine(h, w, 0.03, -0.02, 0.02, -0.01, 2.2, 0.4) }, 0);
        var flow = Estimator.Estimate(Frame1For(tex, gt), tex);
        double translation = InteriorEpe(flow.Narrow(0, 0, 1), gt.Narrow(0, 0, 1), 8);
        double affine = InteriorEpe(flow.Narrow(0, 1, 1), gt.Narrow(0, 1, 1), 8);
        Assert.True(translation < 0.1, $"translation EPE {translation}");
        Assert.True(affine < 0.2, $"affine EPE {affine}");
    }

    [Fact]
    public void WorksOnOddSizesAndGreyFrames()
    {
        int h = 37, w = 53;
        var tex = Texture(4, h, w, 1.5f).Narrow(1, 0, 1);
        var gt = Affine(h, w, 0, 0, 0, 0, -0.6, 1.1);
        var flow = Estimator.Estimate(Frame1For(tex, gt), tex);
        Assert.Equal(new Shape(1, 2, h, w), flow.Shape);
        double epe = InteriorEpe(flow, gt, 6);
        Assert.True(epe < 0.15, $"EPE {epe}");
    }

    [Fact]
    public void InputRangesAreEquivalent()
    {
        var a = Texture(5, 24, 24, 1.5f);
        var b = Frame1For(a, Affine(24, 24, 0, 0, 0, 0, 0.5, 0.5));
        var small = ClassicalFlowOptions.Default with { Levels = 2, Warps = 2, Iterations = 5 };
        var f01 = new ClassicalFlow(small with { InputRange = PixelRange.ZeroToOne }).Estimate(b, a);
        var fpm = new ClassicalFlow(small with { InputRange = PixelRange.MinusOneToOne }).Estimate(b.MulScalar(2).AddScalar(-1), a.MulScalar(2).AddScalar(-1));
        for (int i = 0; i < f01.Numel; i++) Assert.True(Math.Abs(f01.Span[i] - fpm.Span[i]) < 2e-3f, $"element {i}: {f01.Span[i]} vs {fpm.Span[i]}");
    }

    [Fact]
    public void BeatsDisMediumOnTheSharedFlyingChairsCrop()
    {
        var dir = MmflowDir();
        var f1 = FlowFrames.Read(Path.Combine(dir, "00001_img1.ppm"));
        var f2 = FlowFrames.Read(Path.Combine(dir, "00001_img2.ppm"));
        var gt = FlowIO.ReadFlo(Path.Combine(dir, "00001_flow.flo"));
        double epe = FlowMetrics.EndpointError(Estimator.Estimate(f1, f2), gt);
        Assert.True(epe < 0.85, $"EPE {epe} (OpenCV DIS-medium: 0.944, TV-L1 default 0.540)"); // measured 0.64
    }

    [Fact]
    public void RejectsMismatchedFramesAndBadOptions()
    {
        var e = Assert.Throws<ArgumentException>(() => Estimator.Estimate(Tensor.Zeros(1, 3, 8, 8), Tensor.Zeros(1, 3, 8, 9)));
        Assert.Contains("[1, 3, 8, 9]", e.Message);
        Assert.Contains("[1, 3, 8, 8]", e.Message);
        Assert.Throws<ArgumentException>(() => Estimator.Estimate(Tensor.Zeros(1, 2, 8, 8), Tensor.Zeros(1, 2, 8, 8)));
        Assert.Throws<ArgumentException>(() => Estimator.Estimate(Tensor.Zeros(3, 8, 8), Tensor.Zeros(3, 8, 8)));
        Assert.Throws<ArgumentException>(() => new ClassicalFlow(ClassicalFlowOptions.Default with { Tau = 0.3f }));
        Assert.Throws<ArgumentException>(() => new ClassicalFlow(ClassicalFlowOptions.Default with { ScaleFactor = 1 }));
        Assert.Throws<ArgumentException>(() => new ClassicalFlow(ClassicalFlowOptions.Default with { FinestIterations = 0 }));
    }

    [Fact]
    public void PyramidLevelsStopAtTheMinimumSize()
    {
        var o = ClassicalFlowOptions.Default with { Levels = 6, MinLevelSize = 8 };
        var sizes = ClassicalFlow.LevelSizes(50, 70, o);
        Assert.Equal(new[] { (50, 70), (25, 35), (13, 18) }, sizes);
    }

    /// <summary>Finite differences of L = sum(flow * W) against autograd, for both frames, on a tiny two-level problem.</summary>
    [Theory]
    [InlineData(0f, false)]
    [InlineData(0.5f, true)]
    public void GradientsReachBothFrames(float gamma, bool checkpoint)
    {
        var options = ClassicalFlowOptions.Default with
        {
            InputRange = PixelRange.ZeroToOne, Levels = 2, MinLevelSize = 2, Warps = 2, Iterations = 2, FinestIterations = null, Gamma = gamma,
            CheckpointWarps = checkpoint,
        };
        var est = new ClassicalFlow(options);
        var a = Texture(6, 8, 8, 1f);
        var b = Frame1For(a, Affine(8, 8, 0.05, 0, 0, -0.05, 0.4, -0.3));
        var weights = Texture(7, 8, 8, 0.5f).Narrow(1, 0, 2).AddScalar(-0.5f); // [1, 2, 8, 8]
        var x1 = b.DetachedLeaf(); var x2 = a.DetachedLeaf();
        var loss = est.Estimate(x1, x2).Mul(weights).Sum();
        var grads = Autograd.Grad(loss, new[] { x1, x2 });

        double Loss(Tensor f1, Tensor f2)
        {
            using var _ = GradMode.NoGrad();
            var f = est.Estimate(f1, f2).Span; var wd = weights.Span;
            double s = 0;
            for (int i = 0; i < f.Length; i++) s += (double)f[i] * wd[i];
            return s;
        }

        // The unrolled solver is piecewise smooth (thresholding, border clamping): where a sample sits on a kink, autograd
        // returns one one-sided derivative, so each sample is compared with the closest of central, left and right differences.
        var rng = new Random(11);
        const float eps = 2e-3f;
        double l0 = Loss(b, a);
        for (int k = 0; k < 2; k++)
        {
            var x = k == 0 ? b : a;
            double num = 0, den = 0;
            for (int s = 0; s < 24; s++)
            {
                int i = rng.Next(x.Numel);
                var plus = x.Clone(); plus.Span[i] += eps;
                var minus = x.Clone(); minus.Span[i] -= eps;
                double lp = k == 0 ? Loss(plus, a) : Loss(b, plus), lm = k == 0 ? Loss(minus, a) : Loss(b, minus);
                double central = (lp - lm) / (2 * eps), right = (lp - l0) / eps, left = (l0 - lm) / eps;
                double ad = grads[k].Span[i];
                double err = Math.Min(Math.Abs(central - ad), Math.Min(Math.Abs(right - ad), Math.Abs(left - ad)));
                num += err * err;
                den += central * central;
            }
            Assert.True(den > 1e-6, $"frame {k + 1}: finite-difference gradient is zero");
            double rel = Math.Sqrt(num / den);
            Assert.True(rel < 0.02, $"frame {k + 1}: relative gradient error {rel}");
        }
    }
}
