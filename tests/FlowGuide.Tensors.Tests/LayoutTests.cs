using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Layout ops: gradients, values against index arithmetic, and the strided-copy kernel against its scalar twin.</summary>
public class LayoutTests
{
    [Fact]
    public void ViewOpGradients()
    {
        var x = Leaf(Randn(1, 2, 3, 4));
        GradCheck(t => t[0].Reshape(4, -1), new[] { x });
        GradCheck(t => t[0].View(24), new[] { x });
        GradCheck(t => t[0].Flatten(1), new[] { x });
        GradCheck(t => t[0].Flatten(0, 1), new[] { x });
        GradCheck(t => t[0].Unsqueeze(1), new[] { x });
        GradCheck(t => t[0].Unsqueeze(-1), new[] { x });
        var y = Leaf(Randn(2, 2, 1, 3, 1));
        GradCheck(t => t[0].Squeeze(1), new[] { y });
        GradCheck(t => t[0].Squeeze(), new[] { y });
        Assert.Equal(new Shape(2, 3), y.Squeeze().Shape);
        Assert.Equal(new Shape(2, 3, 1), y.Squeeze(1).Shape);
        Assert.Equal(new Shape(2, 3, 4, 1), x.Unsqueeze(-1).Shape);
        Assert.Equal(new Shape(2, 12), x.Flatten(1).Shape);
    }

    [Fact]
    public void PermuteTransposeGradientsAndValues()
    {
        var x = Leaf(Randn(3, 2, 3, 4));
        GradCheck(t => t[0].Permute(2, 0, 1), new[] { x });
        GradCheck(t => t[0].Permute(1, 2, 0), new[] { x });
        GradCheck(t => t[0].Transpose(0, 2), new[] { x });
        GradCheck(t => t[0].Transpose(-1, -2), new[] { x });
        var p = x.Permute(2, 0, 1);
        Assert.Equal(new Shape(4, 2, 3), p.Shape);
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++)
            Assert.Equal(x[i, j, k], p[k, i, j]);
    }

    [Fact]
    public void ExpandRepeatGradientsAndValues()
    {
        var x = Leaf(Randn(4, 3, 1));
        GradCheck(t => t[0].Expand(2, 3, 5), new[] { x });
        GradCheck(t => t[0].Expand(-1, 4), new[] { x });
        GradCheck(t => t[0].Repeat(2, 3), new[] { x });
        GradCheck(t => t[0].Repeat(2, 1, 2), new[] { x });
        var r = Tensor.FromArray(new[] { 1f, 2f }, 2).Repeat(2, 3);
        Assert.Equal(new Shape(2, 6), r.Shape);
        Assert.Equal(new[] { 1f, 2f, 1f, 2f, 1f, 2f, 1f, 2f, 1f, 2f, 1f, 2f }, r.ToArray());
        var e = x.Expand(2, 3, 5);
        Assert.Equal(x[2, 0], e[1, 2, 4]);
    }

    [Fact]
    public void NarrowSliceGradientsAndValues()
    {
        var x = Leaf(Randn(5, 4, 7));
        GradCheck(t => t[0].Narrow(1, 2, 3), new[] { x });
        GradCheck(t => t[0].Narrow(-1, -3, 2), new[] { x });
        GradCheck(t => t[0].Slice(1, 1, 7, 2), new[] { x });
        GradCheck(t => t[0].Slice(0, -3, -1, 1), new[] { x });
        GradCheck(t => t[0].Slice(1, 0, 7, 3).Slice(0, 1, 4, 2), new[] { x });
        var s = x.Slice(1, 1, 7, 2);
        Assert.Equal(new Shape(4, 3), s.Shape);
        for (int i = 0; i < 4; i++) for (int k = 0; k < 3; k++) Assert.Equal(x[i, 1 + 2 * k], s[i, k]);
        Assert.Equal(new Shape(4, 3), x.Slice(1, 0, 100, 3).Shape); // end clamps, 0,3,6
        Assert.Equal(new Shape(4, 0), x.Slice(1, 5, 2).Shape);      // empty when end < start
        Assert.Equal(new Shape(2, 7), x.Narrow(0, -2, 2).Shape);
    }

    [Fact]
    public void ConcatStackGradientsAndValues()
    {
        var a = Leaf(Randn(6, 2, 3)); var b = Leaf(Randn(7, 2, 1)); var c = Leaf(Randn(8, 2, 2));
        GradCheck(t => Ops.Concat(t, 1), new[] { a, b, c });
        GradCheck(t => Ops.Concat(new[] { t[0], t[0] }, 0), new[] { a }); // the same tensor twice accumulates
        var d = Leaf(Randn(9, 2, 3));
        GradCheck(t => Ops.Stack(t, 0), new[] { a, d });
        GradCheck(t => Ops.Stack(t, 2), new[] { a, d });
        GradCheck(t => Ops.Stack(t, -1), new[] { a, d });
        var cat = Ops.Concat(new[] { a, b, c }, -1);
        Assert.Equal(new Shape(2, 6), cat.Shape);
        Assert.Equal(b[1, 0], cat[1, 3]);
        Assert.Equal(c[1, 1], cat[1, 5]);
        var st = Ops.Stack(new[] { a, d }, 1);
        Assert.Equal(new Shape(2, 2, 3), st.Shape);
        Assert.Equal(d[1, 2], st[1, 1, 2]);
        // Only some inputs require a gradient.
        var frozen = Randn(10, 2, 3);
        GradCheck(t => Ops.Concat(new[] { frozen, t[0] }, 0), new[] { a });
    }

    [Fact]
    public void SplitChunkGradientsAndValues()
    {
        var x = Leaf(Randn(11, 3, 7));
        GradCheck(t => t[0].Split(new[] { 2, 4, 1 }, 1)[1], new[] { x });
        GradCheck(t => Ops.Concat(t[0].Split(3, 1).Select(p => p.MulScalar(2f)).Reverse().ToArray(), 1), new[] { x });
        GradCheck(t => t[0].Chunk(2, 0)[1], new[] { x });
        var parts = x.Split(3, 1);
        Assert.Equal(new[] { 3, 3, 1 }, parts.Select(p => p.Shape[1]).ToArray());
        var chunks = x.Chunk(3, 1);
        Assert.Equal(new[] { 3, 3, 1 }, chunks.Select(p => p.Shape[1]).ToArray());
        Assert.Equal(new[] { 2, 1 }, x.Chunk(2, 0).Select(p => p.Shape[0]).ToArray());
        Assert.Equal(x[2, 5], x.Split(new[] { 2, 4, 1 }, 1)[1][2, 3]);
    }

    [Fact]
    public void FlipGradientsAndValues()
    {
        var x = Leaf(Randn(12, 2, 3, 4));
        GradCheck(t => t[0].Flip(1), new[] { x });
        GradCheck(t => t[0].Flip(0, 2), new[] { x });
        GradCheck(t => t[0].Flip(-1), new[] { x });
        var f = x.Flip(0, 2);
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++)
            Assert.Equal(x[i, j, k], f[1 - i, j, 3 - k]);
    }

    [Fact]
    public void ReshapeIsAViewAndPermuteIdentityIsFree()
    {
        var x = Randn(13, 2, 3);
        var r = x.Reshape(3, 2);
        r[0, 1] = 42f;
        Assert.Equal(42f, x[0, 1]);
        Assert.Same(x, x.Permute(0, 1));
        Assert.Same(x, x.Slice(1, 0, 3));
        Assert.Same(x, x.Expand(2, 3));
    }

    [Fact]
    public void RankZeroTensorsAcceptAxisZero()
    {
        var s = Leaf(Tensor.Scalar(2.5f));
        Assert.Equal(2.5f, Ops.Sum(s, 0).Item());
        Assert.Equal(2.5f, Ops.Max(s, new[] { 0 }).Item());
        Assert.Equal(2.5f, Ops.Mean(s, 0, keepDim: true).Item());
        var (v, i) = Ops.MaxWithIndices(s, 0);
        Assert.Equal(Shape.Scalar, v.Shape);
        Assert.Equal(new[] { 0 }, i);
        Assert.Same(s, s.Squeeze());
        Assert.Same(s, s.Transpose(0, 0));
        Assert.Equal(new Shape(1), s.Unsqueeze(0).Shape);
        GradCheck(t => Ops.Sum(Ops.Square(t[0]), 0), new[] { s });
    }

    // ------------------------------------------------------------------ kernel parity

    public static IEnumerable<object[]> StridedCases()
    {
        // (source numel, offset, strides, destination dims): transposes, steps, broadcasts (stride 0), flips (negative).
        yield return new object[] { 1, 0L, System.Array.Empty<long>(), System.Array.Empty<int>() };
        yield return new object[] { 7, 0L, new long[] { 1 }, new[] { 7 } };
        yield return new object[] { 21, 0L, new long[] { 1, 3 }, new[] { 3, 7 } };
        yield return new object[] { 33, 2L, new long[] { 3 }, new[] { 11 } };
        yield return new object[] { 17, 16L, new long[] { -1 }, new[] { 17 } };
        yield return new object[] { 7, 0L, new long[] { 0, 1 }, new[] { 5, 7 } };
        yield return new object[] { 3, 0L, new long[] { 1, 0 }, new[] { 3, 1003 } };
        yield return new object[] { 3 * 5 * 7, 0L, new long[] { 1, 21, 3 }, new[] { 3, 5, 7 } };
        yield return new object[] { 2 * 33 * 1003, 0L, new long[] { 1003, 33 * 1003, 1 }, new[] { 33, 2, 1003 } };
        yield return new object[] { 2 * 33 * 1003, 0L, new long[] { 1, 1003, 33 * 1003 }, new[] { 1003, 33, 2 } };
        yield return new object[] { 17 * 1003, 17L * 1003 - 1, new long[] { -1003, -1 }, new[] { 17, 1003 } };
        yield return new object[] { 70001, 0L, new long[] { 1 }, new[] { 70001 } };
        yield return new object[] { 4 * 257 * 129, 1L, new long[] { 257 * 129, 2, 257 }, new[] { 4, 128, 129 } };
    }

    [Theory]
    [MemberData(nameof(StridedCases))]
    public void StridedCopyMatchesScalarTwin(int srcLen, long offset, long[] strides, int[] dims)
    {
        var src = Randn(srcLen, srcLen).ToArray();
        int n = new Shape(dims).Numel;
        var fast = new float[n]; var slow = new float[n];
        Layout.StridedCopy(src, offset, strides, fast, dims);
        Layout.StridedCopyScalar(src, offset, strides, slow, dims);
        Assert.Equal(slow, fast);
    }

    [Fact]
    public void StridedScatterIsTheAdjointOfStridedCopy()
    {
        // <copy(x), y> == <x, scatter(y)> for a non-overlapping view (a stepped, transposed window).
        var x = Randn(1, 6 * 10).ToArray();
        long[] st = { 1, 20 };
        int[] dims = { 10, 3 };
        var cx = new float[30];
        Layout.StridedCopy(x, 2, st, cx, dims);
        var y = Randn(2, 30).ToArray();
        var sy = new float[60];
        Layout.StridedScatter(y, sy, 2, st, dims);
        double lhs = 0, rhs = 0;
        for (int i = 0; i < 30; i++) lhs += cx[i] * (double)y[i];
        for (int i = 0; i < 60; i++) rhs += x[i] * (double)sy[i];
        Assert.Equal(lhs, rhs, 4);
    }
}
