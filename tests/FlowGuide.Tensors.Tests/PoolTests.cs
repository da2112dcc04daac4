using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

public class PoolTests
{
    /// <summary>Average pooling with count_include_pad is a depthwise convolution with constant weights 1/K.</summary>
    private static Tensor AvgPoolViaDirectConv(Tensor x, int[] k, int[] stride, int[] pad)
    {
        int c = x.Size(1), kk = k.Aggregate(1, (a, v) => a * v);
        var pads = pad.Select(p => (p, p)).ToArray();
        var g = ConvGeometry.Create("test", x.Size(0), c, x.Shape.Dims[2..].ToArray(), c, c, k, stride, k.Select(_ => 1).ToArray(), pads);
        var w = Tensor.Full(1f / kk, new[] { c, 1 }.Concat(k).ToArray());
        var y = new float[g.N * c * g.OutPlane];
        Conv.ForwardScalar(g, x.Span, w.Span, default, y);
        return Tensor.FromArray(y, new[] { g.N, c }.Concat(g.OutSpatial(k.Length)).ToArray());
    }

    [Fact]
    public void AvgPoolMatchesDirectDepthwiseConvolution()
    {
        var x2 = Randn(1, 2, 3, 7, 9).Permute(0, 1, 3, 2).Permute(0, 1, 3, 2);
        AssertClose(AvgPoolViaDirectConv(x2, new[] { 3, 2 }, new[] { 2, 2 }, new[] { 1, 1 }), Ops.AvgPool2d(x2, new[] { 3, 2 }, new[] { 2, 2 }, new[] { 1, 1 }));
        AssertClose(AvgPoolViaDirectConv(x2, new[] { 2, 2 }, new[] { 2, 2 }, new[] { 0, 0 }), Ops.AvgPool2d(x2, 2));
        var x3 = Randn(2, 1, 2, 5, 6, 7);
        AssertClose(AvgPoolViaDirectConv(x3, new[] { 3, 3, 3 }, new[] { 1, 2, 2 }, new[] { 1, 1, 0 }), Ops.AvgPool3d(x3, new[] { 3, 3, 3 }, new[] { 1, 2, 2 }, new[] { 1, 1, 0 }));
        var x1 = Randn(3, 2, 3, 11);
        AssertClose(AvgPoolViaDirectConv(x1, new[] { 3 }, new[] { 2 }, new[] { 1 }), Ops.AvgPool1d(x1, 3, 2, 1));
    }

    [Fact]
    public void AvgPool3dMatchesTorch()
    {
        // torch: F.avg_pool3d(sin(0.3 i), kernel_size=(3,2,3), stride=(2,2,1), padding=(1,1,1))
        var x = ConvTests.SinRamp(0.3f, 1, 2, 5, 6, 7);
        var y = Ops.AvgPool3d(x, new[] { 3, 2, 3 }, new[] { 2, 2, 1 }, new[] { 1, 1, 1 });
        Assert.Equal(new Shape(1, 2, 3, 4, 7), y.Shape);
        var d = y.Span;
        AssertClose(new[] { 0.03647881f, -0.18833734f, 0.48492622f, -0.0285927f }, new[] { d[0], d[9], d[33], d[^1] }, 1e-4f, 1e-5f);
    }

    [Fact]
    public void GradCheckAvgPool()
    {
        GradCheck(t => Ops.AvgPool2d(t[0], new[] { 3, 2 }, new[] { 2, 1 }, new[] { 1, 1 }), new[] { Leaf(Randn(4, 1, 2, 5, 6)) });
        GradCheck(t => Ops.AvgPool3d(t[0], 2, 1, 1), new[] { Leaf(Randn(5, 1, 2, 3, 4, 3)) });
        GradCheck(t => Ops.AvgPool1d(t[0], 3, 2, 1), new[] { Leaf(Randn(6, 2, 2, 7)) });
    }

    [Fact]
    public void UpsampleNearestRepeatsEachElement()
    {
        var x3 = Randn(7, 2, 3, 2, 3, 4).Permute(0, 1, 2, 4, 3).Permute(0, 1, 2, 4, 3);
        var y3 = Ops.UpsampleNearest(x3, 1, 2, 3);
        Assert.Equal(new Shape(2, 3, 2, 6, 12), y3.Shape);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int d = 0; d < 2; d++)
                    for (int h = 0; h < 6; h++)
                        for (int w = 0; w < 12; w++)
                            Assert.Equal(x3[n, c, d, h / 2, w / 3], y3[n, c, d, h, w]);
        var x2 = Randn(8, 1, 2, 3, 5);
        var y2 = Ops.UpsampleNearest(x2, 2, 2);
        for (int h = 0; h < 6; h++)
            for (int w = 0; w < 10; w++)
                Assert.Equal(x2[0, 1, h / 2, w / 2], y2[0, 1, h, w]);
        var y1 = Ops.UpsampleNearest(Randn(9, 1, 1, 4), 3);
        Assert.Equal(new Shape(1, 1, 12), y1.Shape);
    }

    [Fact]
    public void GradCheckUpsampleNearest()
    {
        GradCheck(t => Ops.UpsampleNearest(t[0], 2, 1, 3), new[] { Leaf(Randn(10, 1, 2, 2, 3, 2)) });
        GradCheck(t => Ops.UpsampleNearest(t[0], 2, 2), new[] { Leaf(Randn(11, 2, 1, 3, 3)) });
        GradCheck(t => Ops.UpsampleNearest(t[0], 2), new[] { Leaf(Randn(12, 1, 2, 5)) });
    }

    /// <summary>An independent bilinear reference in double, written from the torch formula.</summary>
    private static float[] BilinearReference(Tensor x, int outH, int outW, bool alignCorners)
    {
        int n = x.Size(0), c = x.Size(1), h = x.Size(2), w = x.Size(3);
        var y = new float[n * c * outH * outW];
        double Src(int o, int inS, int outS) => alignCorners
            ? (outS > 1 ? o * (inS - 1.0) / (outS - 1.0) : 0)
            : Math.Max(0, (o + 0.5) * inS / outS - 0.5);
        int i = 0;
        for (int a = 0; a < n; a++)
            for (int b = 0; b < c; b++)
                for (int oh = 0; oh < outH; oh++)
                    for (int ow = 0; ow < outW; ow++)
                    {
                        double sh = Src(oh, h, outH), sw = Src(ow, w, outW);
                        int h0 = Math.Min((int)Math.Floor(sh), h - 1), w0 = Math.Min((int)Math.Floor(sw), w - 1);
                        int h1 = Math.Min(h0 + 1, h - 1), w1 = Math.Min(w0 + 1, w - 1);
                        double fh = sh - h0, fw = sw - w0;
                        y[i++] = (float)((1 - fh) * ((1 - fw) * x[a, b, h0, w0] + fw * x[a, b, h0, w1]) + fh * ((1 - fw) * x[a, b, h1, w0] + fw * x[a, b, h1, w1]));
                    }
        return y;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BilinearMatchesReference(bool alignCorners)
    {
        var x = Randn(13, 2, 3, 5, 7).Permute(0, 1, 3, 2).Permute(0, 1, 3, 2);
        foreach (var (oh, ow) in new[] { (10, 14), (3, 4), (7, 5), (1, 1), (5, 7), (11, 9) })
            AssertClose(BilinearReference(x, oh, ow, alignCorners), Ops.UpsampleBilinear2d(x, oh, ow, alignCorners).Span, 1e-5f, 1e-5f, $"{oh}x{ow}");
    }

    [Fact]
    public void BilinearMatchesTorch()
    {
        // torch: F.interpolate(sin(0.41 i), size=..., mode='bilinear', align_corners=...)
        var up = ConvTests.SinRamp(0.41f, 1, 2, 3, 4);
        var down = ConvTests.SinRamp(0.41f, 1, 1, 7, 9);
        var u = Ops.UpsampleBilinear2d(up, 5, 7, alignCorners: false).Span;
        AssertClose(new[] { 0f, 0.56487763f, 0.75869644f, -0.26996097f, -0.00522232f }, new[] { u[0], u[3], u[17], u[40], u[^1] }, 1e-4f, 1e-5f);
        u = Ops.UpsampleBilinear2d(up, 5, 7, alignCorners: true).Span;
        AssertClose(new[] { 0f, 0.56487757f, 0.7586965f, -0.32482874f, -0.00522232f }, new[] { u[0], u[3], u[17], u[40], u[^1] }, 1e-4f, 1e-5f);
        AssertClose(new[] { -0.38823733f, -0.34708232f, -0.02750561f, 0.31103438f, -0.92705089f, -0.30857334f, 0.56271398f, 0.97942936f, -0.22189878f, 0.14399572f, 0.39785522f, 0.33357567f },
            Ops.UpsampleBilinear2d(down, 3, 4, alignCorners: false).Span, 1e-4f, 1e-5f);
        AssertClose(new[] { 0f, 0.87204117f, 0.80158508f, -0.13796584f, -0.99723172f, -0.38414320f, 0.62427443f, 0.97743654f, -0.14830175f, -0.92916840f, -0.70874637f, 0.28332445f },
            Ops.UpsampleBilinear2d(down, 3, 4, alignCorners: true).Span, 1e-4f, 1e-5f);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradCheckBilinear(bool alignCorners)
    {
        GradCheck(t => Ops.UpsampleBilinear2d(t[0], 7, 5, alignCorners), new[] { Leaf(Randn(14, 1, 2, 3, 4)) });
        GradCheck(t => Ops.UpsampleBilinear2d(t[0], 2, 3, alignCorners), new[] { Leaf(Randn(15, 2, 1, 5, 7)) });
    }

    [Fact]
    public void ClearErrors()
    {
        var ex = Assert.Throws<ArgumentException>(() => Ops.AvgPool2d(Randn(1, 1, 2, 4, 4, 4), 2));
        Assert.Contains("AvgPool2d", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.AvgPool2d(Randn(1, 1, 2, 4, 4), 2, 1, 2));
        Assert.Contains("padding", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.UpsampleNearest(Randn(1, 1, 2, 4, 4), 2));
        Assert.Contains("scale", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.UpsampleBilinear2d(Randn(1, 2, 4, 4), 0, 3));
        Assert.Contains("UpsampleBilinear2d", ex.Message);
    }
}
