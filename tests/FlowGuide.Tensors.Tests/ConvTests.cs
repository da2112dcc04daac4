using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

public class ConvTests
{
    /// <summary>sin(i * scale) over the flat index, the same values a torch one-off script builds for reference numbers.</summary>
    internal static Tensor SinRamp(float scale, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var d = t.Span;
        for (int i = 0; i < d.Length; i++) d[i] = MathF.Sin(i * scale);
        return t;
    }

    internal static Tensor CosRamp(float scale, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var d = t.Span;
        for (int i = 0; i < d.Length; i++) d[i] = MathF.Cos(i * scale);
        return t;
    }

    /// <summary>A tensor of <paramref name="shape"/> produced by a permute (so it came through a layout op).</summary>
    private static Tensor PermutedRandn(int seed, int[] shape)
    {
        int r = shape.Length;
        var perm = Enumerable.Range(0, r).Reverse().ToArray();
        var src = Randn(seed, perm.Select(p => shape[p]).ToArray());
        return src.Permute(perm);
    }

    private record Case(string Name, int[] X, int[] W, int[] Stride, (int, int)[] Pad, int[] Dil, int Groups, bool Bias = true, bool Permuted = false);

    private static readonly Case[] Cases =
    {
        new("1d basic", new[] { 2, 3, 11 }, new[] { 4, 3, 3 }, new[] { 1 }, new[] { (1, 1) }, new[] { 1 }, 1),
        new("1d stride2 dil2 causal", new[] { 2, 4, 13 }, new[] { 6, 2, 3 }, new[] { 2 }, new[] { (4, 0) }, new[] { 2 }, 2),
        new("1d depthwise", new[] { 1, 3, 10 }, new[] { 3, 1, 5 }, new[] { 1 }, new[] { (2, 2) }, new[] { 1 }, 3, Bias: false),
        new("2d odd", new[] { 2, 3, 7, 9 }, new[] { 5, 3, 3, 3 }, new[] { 1, 1 }, new[] { (1, 1), (1, 1) }, new[] { 1, 1 }, 1, Permuted: true),
        new("2d groups stride dil", new[] { 2, 4, 9, 8 }, new[] { 6, 2, 3, 3 }, new[] { 2, 2 }, new[] { (1, 1), (1, 1) }, new[] { 2, 2 }, 2),
        new("2d asymmetric rect", new[] { 1, 2, 6, 7 }, new[] { 3, 2, 2, 3 }, new[] { 1, 2 }, new[] { (1, 0), (2, 1) }, new[] { 1, 1 }, 1),
        new("2d depthwise", new[] { 2, 4, 8, 7 }, new[] { 4, 1, 3, 3 }, new[] { 1, 1 }, new[] { (1, 1), (1, 1) }, new[] { 1, 1 }, 4, Permuted: true),
        new("2d depthwise multiplier", new[] { 1, 2, 5, 5 }, new[] { 6, 1, 3, 3 }, new[] { 2, 1 }, new[] { (0, 0), (1, 1) }, new[] { 1, 1 }, 2),
        new("2d pointwise", new[] { 2, 6, 5, 7 }, new[] { 4, 6, 1, 1 }, new[] { 1, 1 }, new[] { (0, 0), (0, 0) }, new[] { 1, 1 }, 1, Permuted: true),
        new("2d pointwise groups", new[] { 2, 6, 3, 5 }, new[] { 4, 3, 1, 1 }, new[] { 1, 1 }, new[] { (0, 0), (0, 0) }, new[] { 1, 1 }, 2),
        new("2d 1x1 stride2", new[] { 1, 3, 7, 6 }, new[] { 2, 3, 1, 1 }, new[] { 2, 2 }, new[] { (0, 0), (0, 0) }, new[] { 1, 1 }, 1),
        new("3d causal", new[] { 1, 3, 5, 6, 7 }, new[] { 4, 3, 3, 3, 3 }, new[] { 1, 1, 1 }, new[] { (2, 0), (1, 1), (1, 1) }, new[] { 1, 1, 1 }, 1, Permuted: true),
        new("3d groups stride dil", new[] { 2, 4, 6, 7, 5 }, new[] { 4, 2, 2, 3, 3 }, new[] { 2, 1, 2 }, new[] { (1, 0), (2, 2), (0, 1) }, new[] { 1, 2, 1 }, 2),
        new("3d pointwise", new[] { 1, 4, 3, 4, 5 }, new[] { 3, 4, 1, 1, 1 }, new[] { 1, 1, 1 }, new[] { (0, 0), (0, 0), (0, 0) }, new[] { 1, 1, 1 }, 1),
    };

    public static IEnumerable<object[]> CaseNames => Cases.Select(c => new object[] { c.Name });

    private static Case Get(string name) => Cases.Single(c => c.Name == name);

    private static ConvGeometry Geometry(Case c) =>
        ConvGeometry.Create("test", c.X[0], c.X[1], c.X[2..], c.W[0], c.Groups, c.W[2..], c.Stride, c.Dil, c.Pad);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardMatchesDirectConvolution(string name)
    {
        var c = Get(name);
        var x = c.Permuted ? PermutedRandn(1, c.X) : Randn(1, c.X);
        var w = Randn(2, c.W);
        var b = c.Bias ? Randn(3, c.W[0]) : null;
        var y = Ops.ConvNd(x, w, b, c.Stride, c.Pad, c.Dil, c.Groups);
        var g = Geometry(c);
        var expected = new float[y.Numel];
        Conv.ForwardScalar(g, x.Span, w.Span, b is null ? default : b.Span, expected);
        Assert.Equal(g.N, y.Size(0));
        Assert.Equal(g.O, y.Size(1));
        AssertClose(expected, y.Span, 1e-4f, 1e-4f, name);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void BackwardKernelsMatchDirectConvolution(string name)
    {
        var c = Get(name);
        var g = Geometry(c);
        var x = c.Permuted ? PermutedRandn(4, c.X) : Randn(4, c.X);
        var w = Randn(5, c.W);
        var gy = Randn(6, g.N, g.O, g.OutPlane);
        var (dxE, dwE, dbE) = (new float[x.Numel], new float[w.Numel], new float[g.O]);
        Conv.BackwardScalar(g, x.Span, w.Span, gy.Span, dxE, dwE, dbE);
        // Default chunking, and a tiny column budget that forces one output row per chunk.
        foreach (int budget in new[] { Conv.DefaultMaxColumnFloats, 1 })
        {
            var (dx, dw, db) = (new float[x.Numel], new float[w.Numel], new float[g.O]);
            Conv.BackwardInput(g, gy.Span, w.Span, dx, budget);
            Conv.BackwardWeight(g, x.Span, gy.Span, dw, budget);
            Conv.BackwardBias(g, gy.Span, db);
            AssertClose(dxE, dx, 1e-4f, 1e-4f, $"{name} dx budget {budget}");
            AssertClose(dwE, dw, 1e-4f, 1e-4f, $"{name} dw budget {budget}");
            AssertClose(dbE, db, 1e-4f, 1e-4f, $"{name} db");
            var y = new float[g.N * g.O * g.OutPlane];
            var yE = new float[y.Length];
            Conv.Forward(g, x.Span, w.Span, default, y, budget);
            Conv.ForwardScalar(g, x.Span, w.Span, default, yE);
            AssertClose(yE, y, 1e-4f, 1e-4f, $"{name} forward budget {budget}");
        }
    }

    [Fact]
    public void Conv3dCausalMatchesTorch()
    {
        // torch: F.conv3d(F.pad(x, (1,1,1,1,2,0)), w, b) with x = sin(0.37 i), w = cos(0.23 i).
        var x = SinRamp(0.37f, 1, 2, 4, 5, 6);
        var w = CosRamp(0.23f, 3, 2, 3, 3, 3);
        var b = Tensor.FromArray(new[] { 0.1f, -0.2f, 0.3f }, 3);
        var y = Ops.Conv3d(x, w, b, new[] { 1, 1, 1 }, new[] { (2, 0), (1, 1), (1, 1) });
        Assert.Equal(new Shape(1, 3, 4, 5, 6), y.Shape);
        var d = y.Span;
        AssertClose(new[] { 2.4569592f, -4.8529282f, 4.4711990f, 7.1680694f, 3.1796346f },
            new[] { d[0], d[7], d[50], d[100], d[^1] }, 2e-4f, 2e-4f);
        Assert.Equal(62.232162, Ops.Sum(y).Item(), 2);
    }

    [Fact]
    public void Conv2dGroupedStridedDilatedMatchesTorch()
    {
        // torch: F.conv2d(x, w, stride=2, padding=1, dilation=2, groups=2), x = sin(0.29 i), w = cos(0.17 i).
        var x = SinRamp(0.29f, 1, 4, 7, 9);
        var w = CosRamp(0.17f, 6, 2, 3, 3);
        var y = Ops.Conv2d(x, w, null, stride: 2, padding: 1, dilation: 2, groups: 2);
        Assert.Equal(new Shape(1, 6, 3, 4), y.Shape);
        var d = y.Span;
        AssertClose(new[] { -1.9475362f, -1.5920203f, 0.0107567f, -3.6715757f }, new[] { d[0], d[5], d[11], d[^1] }, 2e-4f, 2e-4f);
    }

    [Fact]
    public void GradCheckConv1dGroupsDilationCausal()
    {
        var x = Leaf(Randn(10, 2, 4, 9));
        var w = Leaf(Randn(11, 4, 2, 3));
        var b = Leaf(Randn(12, 4));
        GradCheck(t => Ops.Conv1d(t[0], t[1], t[2], 1, (4, 0), dilation: 2, groups: 2), new[] { x, w, b });
    }

    [Fact]
    public void GradCheckConv2dStrideGroups()
    {
        var x = Leaf(Randn(13, 1, 4, 6, 5));
        var w = Leaf(Randn(14, 4, 2, 3, 2));
        var b = Leaf(Randn(15, 4));
        GradCheck(t => Ops.Conv2d(t[0], t[1], t[2], new[] { 2, 1 }, new[] { (1, 0), (1, 1) }, new[] { 1, 2 }, groups: 2), new[] { x, w, b });
    }

    [Fact]
    public void GradCheckConv3dCausalDepthwise()
    {
        var x = Leaf(Randn(16, 1, 2, 4, 4, 3));
        var w = Leaf(Randn(17, 2, 1, 3, 3, 3));
        var b = Leaf(Randn(18, 2));
        GradCheck(t => Ops.Conv3d(t[0], t[1], t[2], new[] { 1, 1, 1 }, new[] { (2, 0), (1, 1), (1, 1) }, groups: 2), new[] { x, w, b });
        var w2 = Leaf(Randn(19, 3, 2, 2, 2, 2));
        GradCheck(t => Ops.Conv3d(t[0], t[1], null, new[] { 1, 2, 1 }, new[] { 0, 1, 1 }, new[] { 2, 1, 1 }), new[] { x, w2 });
    }

    [Fact]
    public void GradCheckPointwise()
    {
        var x = Leaf(Randn(20, 2, 4, 3, 3));
        var w = Leaf(Randn(21, 6, 2, 1, 1));
        GradCheck(t => Ops.Conv2d(t[0], t[1], null, groups: 2), new[] { x, w });
    }

    [Fact]
    public void FrozenWeightGetsNoGradientAndInputGradientIsUnchanged()
    {
        var x = Leaf(Randn(22, 1, 3, 6, 6));
        var w = Leaf(Randn(23, 4, 3, 3, 3));
        var gy = Randn(24, 1, 4, 6, 6);
        var full = Autograd.Grad(Ops.Conv2d(x, w, null, padding: 1), new[] { x, w }, gy);
        var onlyX = Autograd.Grad(Ops.Conv2d(x, w, null, padding: 1), new[] { x }, gy);
        AssertClose(full[0], onlyX[0]);
        Assert.Null(w.Grad);
        var wFrozen = Randn(23, 4, 3, 3, 3);
        var y = Ops.Conv2d(x, wFrozen, null, padding: 1);
        Assert.True(y.RequiresGrad);
        AssertClose(full[0], Autograd.Grad(y, new[] { x }, gy)[0]);
    }

    [Fact]
    public void NoTapeWithoutGrad()
    {
        var y = Ops.Conv2d(Randn(1, 1, 2, 4, 4), Randn(2, 3, 2, 3, 3));
        Assert.Null(y.GradFn);
    }

    [Fact]
    public void UnfoldMatchesReferenceAndFeedsConvolutionAsGemm()
    {
        var x = Randn(30, 2, 3, 5, 6);
        var u = Ops.Unfold(x, new[] { 3, 2 }, dilation: new[] { 1, 2 }, padding: new[] { 1, 1 }, stride: new[] { 2, 1 });
        // Output positions: H (5+2-3)/2+1 = 3, W (6+2-3)/1+1 = 6.
        Assert.Equal(new Shape(2, 3 * 6, 18), u.Shape);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int kh = 0; kh < 3; kh++)
                    for (int kw = 0; kw < 2; kw++)
                        for (int oh = 0; oh < 3; oh++)
                            for (int ow = 0; ow < 6; ow++)
                            {
                                int ih = oh * 2 - 1 + kh, iw = ow - 1 + kw * 2;
                                float e = ih >= 0 && ih < 5 && iw >= 0 && iw < 6 ? x[n, c, ih, iw] : 0f;
                                Assert.Equal(e, u[n, (c * 3 + kh) * 2 + kw, oh * 6 + ow]);
                            }
        // conv2d(x, w) == w.reshape(O, -1) @ unfold(x)
        var w = Randn(31, 4, 3, 3, 2);
        var y = Ops.Conv2d(x, w, null, new[] { 2, 1 }, new[] { 1, 1 }, new[] { 1, 2 });
        var viaUnfold = Ops.Matmul(w.Reshape(4, -1), u).Reshape(2, 4, 3, 6);
        AssertClose(y, viaUnfold, 1e-4f, 1e-4f);
    }

    [Fact]
    public void GradCheckUnfold()
    {
        var x = Leaf(Randn(32, 1, 2, 4, 5));
        GradCheck(t => Ops.Unfold(t[0], new[] { 2, 3 }, padding: new[] { 1, 0 }, stride: new[] { 1, 2 }), new[] { x });
    }

    [Fact]
    public void ClearErrors()
    {
        var x = Randn(1, 1, 4, 6, 6);
        var ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, Randn(2, 3, 3, 3, 3)));
        Assert.Contains("Conv2d", ex.Message);
        Assert.Contains("[1, 4, 6, 6]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, Randn(2, 3, 2, 3, 3), groups: 3));
        Assert.Contains("groups=3", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, Randn(2, 3, 4, 7, 3)));
        Assert.Contains("larger than the padded input", ex.Message);
        Ops.Conv2d(x, Randn(2, 3, 4, 7, 3), padding: 1); // fits once padded
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(Randn(1, 4, 6, 6), Randn(2, 3, 4, 3, 3)));
        Assert.Contains("rank 4", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv3d(x, Randn(2, 3, 4, 3, 3)));
        Assert.Contains("Conv3d", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, Randn(2, 3, 4, 3, 3, 3)));
        Assert.Contains("weight", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, Randn(2, 3, 4, 3, 3), Randn(3, 4)));
        Assert.Contains("bias", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv2d(x, Randn(2, 3, 4, 3, 3), null, new[] { 1 }, new[] { 0, 0 }));
        Assert.Contains("stride", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.Conv1d(Randn(1, 1, 2, 5), Randn(2, 2, 2, 3), null, 1, (-1, 0)));
        Assert.Contains("padding", ex.Message);
    }
}
