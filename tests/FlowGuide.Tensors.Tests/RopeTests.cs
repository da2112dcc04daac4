using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Wan2.1 3-D rotary tables and the interleaved-pair rotation.</summary>
public class RopeTests
{
    [Fact]
    public void FrequenciesFollowTheWanSplitAndTokenOrder()
    {
        int f = 2, h = 3, w = 4, headDim = 16;  // h = w = 2 * (16 / 6) = 4, t = 8: 4 + 2 + 2 pairs
        var (cos, sin) = Ops.RopeFrequencies(f, h, w, headDim);
        Assert.Equal(new Shape(f * h * w, headDim / 2), cos.Shape);
        Assert.Equal(cos.Shape, sin.Shape);
        for (int fi = 0; fi < f; fi++)
            for (int hi = 0; hi < h; hi++)
                for (int wi = 0; wi < w; wi++)
                {
                    int tok = (fi * h + hi) * w + wi;
                    var angles = new List<double>();
                    for (int i = 0; i < 4; i++) angles.Add(fi * Math.Pow(10000, -2.0 * i / 8));
                    for (int i = 0; i < 2; i++) angles.Add(hi * Math.Pow(10000, -2.0 * i / 4));
                    for (int i = 0; i < 2; i++) angles.Add(wi * Math.Pow(10000, -2.0 * i / 4));
                    for (int i = 0; i < 8; i++)
                    {
                        Assert.Equal(Math.Cos(angles[i]), cos[tok, i], 6);
                        Assert.Equal(Math.Sin(angles[i]), sin[tok, i], 6);
                    }
                }
    }

    [Fact]
    public void HeadDim128SplitsInto44And42And42()
    {
        // Token (frame 1, row 0, col 0): only the first 22 pairs (time) rotate; token (0, 0, 1): only the last 21.
        var (cos, sin) = Ops.RopeFrequencies(2, 1, 2, 128);
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(i < 22 ? Math.Sin(Math.Pow(10000, -2.0 * i / 44)) : 0, sin[2, i], 6);
            Assert.Equal(i >= 43 ? Math.Sin(Math.Pow(10000, -2.0 * (i - 43) / 42)) : 0, sin[1, i], 6);
        }
    }

    private static float[] DirectRope(Tensor x, Tensor cos, Tensor sin)
    {
        // x [B, H, L, D]
        var d = x.Shape.Dims.ToArray();
        var o = new float[x.Numel];
        for (int b = 0; b < d[0]; b++)
            for (int h = 0; h < d[1]; h++)
                for (int l = 0; l < d[2]; l++)
                    for (int i = 0; i < d[3] / 2; i++)
                    {
                        float a = x[b, h, l, 2 * i], c = x[b, h, l, 2 * i + 1];
                        int at = ((b * d[1] + h) * d[2] + l) * d[3] + 2 * i;
                        o[at] = a * cos[l, i] - c * sin[l, i];
                        o[at + 1] = a * sin[l, i] + c * cos[l, i];
                    }
        return o;
    }

    [Fact]
    public void ApplyRopeMatchesDirectLoopInBothLayouts()
    {
        var (cos, sin) = Ops.RopeFrequencies(2, 3, 4, 12);
        var x = Randn(1, 2, 3, 24, 12);  // [B, H, L, D]
        var y = Ops.ApplyRope(x, cos, sin);
        AssertClose(DirectRope(x, cos, sin), y.Span, 1e-6f, 1e-6f, "[B, H, L, D]");
        var xl = Ops.Permute(x, 0, 2, 1, 3);  // [B, L, H, D]
        var yl = Ops.ApplyRope(xl, cos, sin, tokenAxis: 1);
        AssertClose(y, Ops.Permute(yl, 0, 2, 1, 3), 1e-6f, 1e-6f, "[B, L, H, D]");
    }

    [Theory]
    [InlineData(1, 1, 1, 2)]
    [InlineData(2, 3, 1, 6)]
    [InlineData(1, 17, 3, 34)]
    [InlineData(2, 5, 2, 64)]
    [InlineData(1, 7, 1, 510)]
    public void KernelMatchesScalarTwin(int outer, int tokens, int inner, int dim)
    {
        var x = Randn(outer + dim, outer * tokens * inner * dim).ToArray();
        var cos = Randn(2, tokens * dim / 2).ToArray();
        var sin = Randn(3, tokens * dim / 2).ToArray();
        foreach (bool inverse in new[] { false, true })
        {
            var fast = new float[x.Length];
            var slow = new float[x.Length];
            Kernels.RopeKernels.Apply(x, cos, sin, fast, outer, tokens, inner, dim, inverse);
            Kernels.RopeKernels.ApplyScalar(x, cos, sin, slow, outer, tokens, inner, dim, inverse);
            AssertClose(slow, fast, 1e-6f, 1e-6f, $"inverse={inverse}");
        }
    }

    [Fact]
    public void RotationPreservesEachPairNorm()
    {
        var (cos, sin) = Ops.RopeFrequencies(3, 2, 5, 24);
        var x = Randn(2, 1, 2, 30, 24);
        var y = Ops.ApplyRope(x, cos, sin);
        var xs = x.Span;
        var ys = y.Span;
        for (int i = 0; i < xs.Length; i += 2)
            Assert.Equal(xs[i] * xs[i] + xs[i + 1] * xs[i + 1], ys[i] * ys[i] + ys[i + 1] * ys[i + 1], 4);
    }

    [Fact]
    public void GradCheckAndInverse()
    {
        var (cos, sin) = Ops.RopeFrequencies(2, 2, 2, 12);
        var x = Leaf(Randn(3, 1, 2, 8, 12));
        GradCheck(a => Ops.ApplyRope(a[0], cos, sin), new[] { x });
        // Rotating by the negated sine undoes the rotation.
        var back = Ops.ApplyRope(Ops.ApplyRope(x, cos, sin), cos, Ops.Neg(sin));
        AssertClose(x, back, 1e-5f, 1e-6f);
    }

    [Fact]
    public void BadShapesThrowNamingTheOp()
    {
        var (cos, sin) = Ops.RopeFrequencies(1, 2, 2, 12);
        Assert.Contains("ApplyRope", Assert.Throws<ArgumentException>(() => Ops.ApplyRope(Randn(1, 1, 1, 5, 12), cos, sin)).Message);
        Assert.Contains("ApplyRope", Assert.Throws<ArgumentException>(() => Ops.ApplyRope(Randn(1, 1, 1, 4, 10), cos, sin)).Message);
        Assert.Contains("RopeFrequencies", Assert.Throws<ArgumentException>(() => Ops.RopeFrequencies(1, 1, 1, 7)).Message);
    }
}
