using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>FlowMotion's loss: the difference operator against a direct loop, the fused analytic form against autograd and finite differences.</summary>
public class FlowMotionLossTests
{
    private static readonly int[] Shape = { 2, 3, 4, 2, 3 }; // [B, C, F, H, W]

    private static float At(Tensor r, int b, int c, int f, int h, int w) => r[b, c, f, h, w];

    [Fact]
    public void DifferencesMatchADirectLoop()
    {
        var r = Tensor.Randn(new Rng(1), Shape);
        var d = FlowMotionLoss.Differences(r);
        int B = 2, C = 3, F = 4, H = 2, W = 3;
        Assert.Equal(new[] { B, C, FlowMotionLoss.DifferenceCount(F), H, W }, d.Shape.ToArray());
        Assert.Equal(3 + 12, FlowMotionLoss.DifferenceCount(F));
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                for (int h = 0; h < H; h++)
                    for (int w = 0; w < W; w++)
                    {
                        var expected = new List<float>();
                        for (int f = 0; f + 1 < F; f++) expected.Add(Math.Abs(At(r, b, c, f + 1, h, w) - At(r, b, c, f, h, w)));
                        for (int k = 0; k < F; k++)
                            for (int j = 0; j < F; j++)
                                if (j != k) expected.Add(Math.Abs(At(r, b, c, k, h, w) - At(r, b, c, j, h, w)));
                        for (int k = 0; k < expected.Count; k++) Assert.Equal(expected[k], d[b, c, k, h, w], 6);
                    }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnalyticValueAndGradientEqualAutograd(bool differenceAlignment)
    {
        var src = Tensor.Randn(new Rng(2), Shape);
        var tgt = Tensor.Randn(new Rng(3), Shape).DetachedLeaf();
        var terms = FlowMotionLoss.Compute(src, tgt, 20, 5, differenceAlignment);
        var auto = Autograd.Grad(terms.Total, new[] { tgt })[0].ToArray();
        var fused = FlowMotionLoss.Evaluate(src, tgt.Detach(), 20, 5, differenceAlignment);
        Assert.Equal(terms.LatentAlignment.Item(), fused.LatentAlignment, 1e-4 * fused.LatentAlignment);
        Assert.Equal(terms.DifferenceAlignment.Item(), fused.DifferenceAlignment, 1e-4 * fused.DifferenceAlignment + 1e-12);
        if (!differenceAlignment) Assert.Equal(0, fused.DifferenceAlignment);
        else Assert.True(fused.DifferenceAlignment > 0);
        var g = fused.Gradient.ToArray();
        for (int i = 0; i < g.Length; i++) Assert.True(Math.Abs(auto[i] - g[i]) <= 1e-4f * (1 + Math.Abs(auto[i])), $"[{i}] autograd {auto[i]}, analytic {g[i]}");
    }

    [Fact]
    public void LatentAlignmentGradientIsTheClosedForm()
    {
        var src = Tensor.Randn(new Rng(4), Shape);
        var tgt = Tensor.Randn(new Rng(5), Shape);
        var r = FlowMotionLoss.Evaluate(src, tgt, 20, 5, differenceAlignment: false);
        int perVideo = 3 * 4 * 2 * 3;
        var s = src.ToArray();
        var t = tgt.ToArray();
        double expected = 0;
        for (int i = 0; i < t.Length; i++) expected += ((double)t[i] - s[i]) * ((double)t[i] - s[i]);
        Assert.Equal(20 * expected / perVideo, r.LatentAlignment, 1e-9 * r.LatentAlignment);
        var g = r.Gradient.ToArray();
        for (int i = 0; i < g.Length; i++) Assert.Equal(2 * 20 * (t[i] - s[i]) / perVideo, g[i], 1e-6);
    }

    [Fact]
    public void FiniteDifferencesMatchBothGradients()
    {
        var src = Tensor.Randn(new Rng(6), 1, 2, 3, 2, 2);
        var tgt = Tensor.Randn(new Rng(7), 1, 2, 3, 2, 2);
        var fused = FlowMotionLoss.Evaluate(src, tgt, 20, 5).Gradient.ToArray();
        var leaf = tgt.DetachedLeaf();
        var auto = Autograd.Grad(FlowMotionLoss.Compute(src, leaf, 20, 5).Total, new[] { leaf })[0].ToArray();
        const float eps = 1e-2f;
        for (int i = 0; i < tgt.Numel; i++)
        {
            double Loss(float delta)
            {
                var x = tgt.Clone();
                x.Span[i] += delta;
                return FlowMotionLoss.Evaluate(src, x, 20, 5).Total;
            }
            double fd = (Loss(eps) - Loss(-eps)) / (2 * eps);
            Assert.True(Math.Abs(fd - fused[i]) <= 2e-3 * (1 + Math.Abs(fd)), $"[{i}] finite difference {fd}, analytic {fused[i]}");
            Assert.True(Math.Abs(fd - auto[i]) <= 2e-3 * (1 + Math.Abs(fd)), $"[{i}] finite difference {fd}, autograd {auto[i]}");
        }
    }

    [Fact]
    public void BatchSumsPerVideoLosses()
    {
        var src = Tensor.Randn(new Rng(8), Shape);
        var tgt = Tensor.Randn(new Rng(9), Shape);
        var both = FlowMotionLoss.Evaluate(src, tgt, 20, 5);
        double sum = 0;
        for (int b = 0; b < 2; b++) sum += FlowMotionLoss.Evaluate(src.Narrow(0, b, 1), tgt.Narrow(0, b, 1), 20, 5).Total;
        Assert.Equal(sum, both.Total, 1e-9 * sum);
        // the second video's gradient is what it gets alone
        var alone = FlowMotionLoss.Evaluate(src.Narrow(0, 1, 1), tgt.Narrow(0, 1, 1), 20, 5).Gradient.ToArray();
        var part = both.Gradient.Narrow(0, 1, 1).ToArray();
        for (int i = 0; i < alone.Length; i++) Assert.Equal(alone[i], part[i], 6);
    }

    [Fact]
    public void EqualRepresentationsGiveZeroAndOneFrameHasNoDifferenceTerm()
    {
        var r = Tensor.Randn(new Rng(10), Shape);
        var same = FlowMotionLoss.Evaluate(r, r.Clone(), 20, 5);
        Assert.Equal(0, same.Total);
        Assert.All(same.Gradient.ToArray(), g => Assert.Equal(0f, g));
        var one = FlowMotionLoss.Evaluate(Tensor.Randn(new Rng(11), 1, 2, 1, 2, 2), Tensor.Randn(new Rng(12), 1, 2, 1, 2, 2), 20, 5);
        Assert.Equal(0, one.DifferenceAlignment);
        Assert.True(one.LatentAlignment > 0);
        Assert.Equal(0, FlowMotionLoss.Compute(Tensor.Zeros(1, 2, 1, 2, 2), Tensor.Ones(1, 2, 1, 2, 2), 20, 5).DifferenceAlignment.Item());
    }

    [Fact]
    public void ShiftingTheWholeTargetChangesOnlyLatentAlignment()
    {
        // D sees frame differences only: a constant offset (appearance) leaves L_DA unchanged
        var src = Tensor.Randn(new Rng(13), Shape);
        var tgt = Tensor.Randn(new Rng(14), Shape);
        var a = FlowMotionLoss.Evaluate(src, tgt, 20, 5);
        var b = FlowMotionLoss.Evaluate(src, Ops.AddScalar(tgt, 0.7f), 20, 5);
        Assert.Equal(a.DifferenceAlignment, b.DifferenceAlignment, 1e-5 * a.DifferenceAlignment);
        Assert.NotEqual(a.LatentAlignment, b.LatentAlignment);
    }

    [Fact]
    public void MismatchedShapesThrow()
    {
        Assert.Throws<ArgumentException>(() => FlowMotionLoss.Evaluate(Tensor.Zeros(1, 2, 3, 2, 2), Tensor.Zeros(1, 2, 3, 2, 3), 20, 5));
        Assert.Throws<ArgumentException>(() => FlowMotionLoss.Compute(Tensor.Zeros(2, 3, 2, 2), Tensor.Zeros(2, 3, 2, 2), 20, 5));
        Assert.Throws<ArgumentException>(() => FlowMotionLoss.Differences(Tensor.Zeros(1, 2, 1, 2, 2)));
    }
}
