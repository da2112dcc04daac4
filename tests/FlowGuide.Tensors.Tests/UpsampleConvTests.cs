using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary><see cref="Ops.UpsampleNearest2xConv3x3"/> against upsampling first and then convolving.</summary>
public class UpsampleConvTests
{
    private static Tensor Reference(Tensor x, Tensor w, Tensor? b) => x.Rank == 4
        ? Ops.Conv2d(Ops.UpsampleNearest(x, 2, 2), w, b, padding: 1)
        : Ops.Conv3d(Ops.UpsampleNearest(x, 1, 2, 2), w, b, new[] { 1, 1, 1 }, new[] { (0, 0), (1, 1), (1, 1) });

    [Theory]
    [InlineData(1, 3, 4, 5, 4, true)]
    [InlineData(2, 5, 1, 1, 3, true)]    // a single pixel: every phase sees padding on two sides
    [InlineData(3, 2, 7, 3, 6, false)]
    [InlineData(1, 8, 16, 16, 4, true)]  // a decoder-like size
    public void ImageMatchesUpsampleThenConv(int n, int c, int h, int w, int o, bool bias)
    {
        var x = Randn(1, n, c, h, w);
        var weight = Randn(2, o, c, 3, 3);
        var b = bias ? Randn(3, o) : null;
        var y = Ops.UpsampleNearest2xConv3x3(x, weight, b);
        Assert.Equal(new Shape(n, o, 2 * h, 2 * w), y.Shape);
        AssertClose(Reference(x, weight, b), y, rtol: 1e-4f, atol: 1e-4f);
    }

    [Fact]
    public void VideoMatchesFrameWiseUpsampleThenConv()
    {
        var x = Randn(4, 2, 3, 3, 4, 5);                 // [N, C, T, H, W]
        var weight = Randn(5, 4, 3, 1, 3, 3);
        var b = Randn(6, 4);
        var y = Ops.UpsampleNearest2xConv3x3(x, weight, b);
        Assert.Equal(new Shape(2, 4, 3, 8, 10), y.Shape);
        AssertClose(Reference(x, weight, b), y, rtol: 1e-4f, atol: 1e-4f);
    }

    [Fact]
    public void GradientsMatchTheReferencePath()
    {
        var x = Leaf(Randn(7, 2, 3, 5, 4));
        var weight = Leaf(Randn(8, 4, 3, 3, 3));
        var b = Leaf(Randn(9, 4));
        var probe = Randn(10, 2, 4, 10, 8);
        var fast = Autograd.Grad(Ops.Sum(Ops.Mul(Ops.UpsampleNearest2xConv3x3(x, weight, b), probe)), new[] { x, weight, b });
        var slow = Autograd.Grad(Ops.Sum(Ops.Mul(Reference(x, weight, b), probe)), new[] { x, weight, b });
        for (int i = 0; i < 3; i++) AssertClose(slow[i], fast[i], rtol: 1e-4f, atol: 1e-4f, what: $"gradient {i}");
    }

    [Fact]
    public void GradCheckUpsampleNearest2xConv3x3()
    {
        GradCheck(t => Ops.UpsampleNearest2xConv3x3(t[0], t[1], t[2]),
            new[] { Leaf(Randn(11, 1, 2, 3, 3)), Leaf(Randn(12, 3, 2, 3, 3)), Leaf(Randn(13, 3)) });
        GradCheck(t => Ops.UpsampleNearest2xConv3x3(t[0], t[1]),
            new[] { Leaf(Randn(14, 1, 2, 2, 2, 3)), Leaf(Randn(15, 2, 2, 1, 3, 3)) });
    }

    [Fact]
    public void BadShapesNameTheInput()
    {
        var ex = Assert.Throws<ArgumentException>(() => Ops.UpsampleNearest2xConv3x3(Randn(1, 1, 2, 4), Randn(2, 3, 2, 3, 3)));
        Assert.Contains("x must be", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.UpsampleNearest2xConv3x3(Randn(1, 1, 2, 4, 4), Randn(2, 3, 2, 5, 5)));
        Assert.Contains("weight must be [O, 2, 3, 3]", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Ops.UpsampleNearest2xConv3x3(Randn(1, 1, 2, 4, 4), Randn(2, 3, 2, 3, 3), Randn(3, 4)));
        Assert.Contains("bias must be [3]", ex.Message);
    }
}
