using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

public class FlowMoLossTests
{
    /// <summary>
    /// v [B, C, F, H, W] whose frame differences are at least 0.3 in magnitude (away from |.|'s kink), with one column per
    /// video made to move much more irregularly so the maximum is unambiguous.
    /// </summary>
    private static Tensor Constructed(int b, int c, int f, int h, int w, (int H, int W)[] hot, int seed)
    {
        var rng = new Random(seed);
        var data = new float[b * c * f * h * w];
        for (int bi = 0; bi < b; bi++)
            for (int ci = 0; ci < c; ci++)
                for (int hi = 0; hi < h; hi++)
                    for (int wi = 0; wi < w; wi++)
                    {
                        bool isHot = hot[bi] == (hi, wi);
                        float x = (float)(rng.NextDouble() - 0.5);
                        for (int fi = 0; fi < f; fi++)
                        {
                            data[Index(bi, ci, fi, hi, wi)] = x;
                            float step = (float)(0.3 + rng.NextDouble() * (isHot ? 3.0 : 0.4)) * (rng.Next(2) == 0 ? -1 : 1);
                            x += step;
                        }
                    }
        return Tensor.FromArray(data, b, c, f, h, w);

        int Index(int bi, int ci, int fi, int hi, int wi) => (((bi * c + ci) * f + fi) * h + hi) * w + wi;
    }

    /// <summary>The definition written as loops in double: per-video (s map, max, arg-max).</summary>
    private static (double[,] S, double Max, (int, int) Arg)[] Reference(float[] v, int b, int c, int f, int h, int w)
    {
        var r = new (double[,], double, (int, int))[b];
        for (int bi = 0; bi < b; bi++)
        {
            var s = new double[h, w];
            double best = double.NegativeInfinity;
            (int, int) arg = (-1, -1);
            for (int hi = 0; hi < h; hi++)
                for (int wi = 0; wi < w; wi++)
                {
                    double acc = 0;
                    for (int ci = 0; ci < c; ci++)
                    {
                        var d = new double[f - 1];
                        for (int fi = 0; fi < f - 1; fi++)
                            d[fi] = Math.Abs(v[(((bi * c + ci) * f + fi + 1) * h + hi) * w + wi] - (double)v[(((bi * c + ci) * f + fi) * h + hi) * w + wi]);
                        double mean = d.Average();
                        acc += d.Sum(x => (x - mean) * (x - mean)) / (f - 1); // population variance over F-1 differences
                    }
                    s[hi, wi] = acc / c;
                    if (s[hi, wi] > best) { best = s[hi, wi]; arg = (hi, wi); }
                }
            r[bi] = (s, best, arg);
        }
        return r;
    }

    [Fact]
    public void MatchesLoopDefinitionIncludingArgMaxAndGradientSupport()
    {
        int b = 2, c = 3, f = 5, h = 3, w = 4;
        var hot = new[] { (2, 1), (0, 3) };
        var v = Constructed(b, c, f, h, w, hot, seed: 1);
        var reference = Reference(v.ToArray(), b, c, f, h, w);

        var leaf = v.DetachedLeaf();
        var r = FlowMoLoss.Evaluate(leaf);
        Assert.Equal(new[] { b, h, w }, r.PatchVariance.Shape.ToArray());
        var s = r.PatchVariance.ToArray();
        for (int bi = 0; bi < b; bi++)
        {
            Assert.Equal(hot[bi], reference[bi].Arg); // the construction put the maximum where intended
            Assert.Equal(reference[bi].Arg, r.ArgMax[bi]);
            for (int hi = 0; hi < h; hi++)
                for (int wi = 0; wi < w; wi++)
                    Assert.Equal(reference[bi].S[hi, wi], s[(bi * h + hi) * w + wi], 1e-4 * (1 + reference[bi].S[hi, wi]));
        }
        double expected = reference.Sum(x => x.Max); // batch reduction: sum
        Assert.Equal(expected, r.Loss.Item(), 1e-4 * expected);
        Assert.Equal(r.Loss.Item(), FlowMoLoss.Compute(v).Item());

        // the gradient lives only in each video's arg-max column (all channels, all frames), and is non-zero there
        var g = Autograd.Grad(r.Loss, new[] { leaf })[0].ToArray();
        for (int bi = 0; bi < b; bi++)
            for (int ci = 0; ci < c; ci++)
                for (int fi = 0; fi < f; fi++)
                    for (int hi = 0; hi < h; hi++)
                        for (int wi = 0; wi < w; wi++)
                        {
                            float gv = g[(((bi * c + ci) * f + fi) * h + hi) * w + wi];
                            if ((hi, wi) == hot[bi]) Assert.NotEqual(0f, gv);
                            else Assert.Equal(0f, gv);
                        }
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        int b = 2, c = 2, f = 4, h = 2, w = 3;
        var hot = new[] { (1, 2), (0, 0) };
        var v = Constructed(b, c, f, h, w, hot, seed: 5);
        var leaf = v.DetachedLeaf();
        var g = Autograd.Grad(FlowMoLoss.Compute(leaf), new[] { leaf })[0].ToArray();
        var x = v.ToArray();
        // every element: the column ones carry the gradient, the rest must be flat
        AssertFiniteDifferences(x, g, a => FlowMoLoss.Compute(Tensor.FromArray(a, b, c, f, h, w)).Item());
    }

    [Fact]
    public void MeanReductionMatchesLoopAndItsGradientMatchesFiniteDifferences()
    {
        int b = 2, c = 2, f = 4, h = 2, w = 3;
        var v = Constructed(b, c, f, h, w, new[] { (1, 2), (0, 0) }, seed: 9);
        var reference = Reference(v.ToArray(), b, c, f, h, w);
        double expected = reference.Sum(r => r.S.Cast<double>().Average()); // per-video mean over patches, summed
        var leaf = v.DetachedLeaf();
        var loss = FlowMoLoss.Compute(leaf, FlowMoReduction.Mean);
        Assert.Equal(expected, loss.Item(), 1e-4 * expected);
        Assert.True(loss.Item() < FlowMoLoss.Compute(v).Item(), "the mean of a map lies below its maximum");

        var g = Autograd.Grad(loss, new[] { leaf })[0].ToArray();
        Assert.True(g.Count(x => x != 0) > g.Length / 2, "the mean pushes every patch, not one column");
        var x = v.ToArray();
        AssertFiniteDifferences(x, g, a => FlowMoLoss.Compute(Tensor.FromArray(a, b, c, f, h, w), FlowMoReduction.Mean).Item());
    }

    [Fact]
    public void TwoFramesGiveZeroAndBadShapesThrow()
    {
        // one difference: its variance is zero everywhere
        var two = Tensor.Randn(new Rng(2), 1, 2, 2, 3, 3);
        Assert.Equal(0f, FlowMoLoss.Compute(two).Item());
        var e = Assert.Throws<ArgumentException>(() => FlowMoLoss.Compute(Tensor.Zeros(1, 2, 1, 3, 3)));
        Assert.Contains("2 latent frames", e.Message);
        e = Assert.Throws<ArgumentException>(() => FlowMoLoss.Compute(Tensor.Zeros(2, 3, 3, 3)));
        Assert.Contains("[B, C, F, H, W]", e.Message);
    }

    /// <summary>Central differences (step 1e-2) of <paramref name="loss"/> at every element of x against the autograd gradient g.</summary>
    private static void AssertFiniteDifferences(float[] x, float[] g, Func<float[], double> loss)
    {
        const float eps = 1e-2f;
        double Loss(float[] a) { using var _ = GradMode.NoGrad(); return loss(a); }
        for (int k = 0; k < x.Length; k++)
        {
            float keep = x[k];
            x[k] = keep + eps; double up = Loss(x);
            x[k] = keep - eps; double down = Loss(x);
            x[k] = keep;
            double fd = (up - down) / (2 * eps);
            Assert.True(Math.Abs(fd - g[k]) <= 1e-2 * Math.Abs(fd) + 2e-3, $"element {k}: autograd {g[k]}, finite difference {fd}");
        }
    }
}
