using FlowGuide.Tensors;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Matmul and Linear: values against a naive triple loop and gradients for every operand layout.</summary>
public class MatmulTests
{
    /// <summary>Naive reference: a [.., m, k] @ b [.., k, n] with explicit batch broadcasting, in double.</summary>
    private static float[] Reference(Tensor a, Tensor b, int[] outShape)
    {
        int m = a.Shape[-2], k = a.Shape[-1], n = b.Shape[-1];
        var so = new Shape(outShape);
        int batches = so.Numel / (m * n);
        var batchShape = outShape[..^2];
        var r = new float[so.Numel];
        var idx = new int[batchShape.Length];
        for (int bt = 0; bt < batches; bt++)
        {
            int rem = bt;
            for (int d = batchShape.Length - 1; d >= 0; d--) { idx[d] = rem % batchShape[d]; rem /= batchShape[d]; }
            int Off(Tensor t)
            {
                int lead = batchShape.Length - (t.Rank - 2), off = 0;
                for (int d = 0; d < t.Rank - 2; d++) off = off * t.Shape[d] + (t.Shape[d] == 1 ? 0 : idx[d + lead]);
                return off * t.Shape[-2] * t.Shape[-1];
            }
            int oa = Off(a), ob = Off(b);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += a.Span[oa + i * k + p] * (double)b.Span[ob + p * n + j];
                    r[bt * m * n + i * n + j] = (float)s;
                }
        }
        return r;
    }

    public static IEnumerable<object[]> Cases() => new[]
    {
        new object[] { new[] { 3, 4 }, new[] { 4, 5 }, new[] { 3, 5 } },
        new object[] { new[] { 2, 3, 4 }, new[] { 4, 5 }, new[] { 2, 3, 5 } },
        new object[] { new[] { 2, 3, 4 }, new[] { 2, 4, 5 }, new[] { 2, 3, 5 } },
        new object[] { new[] { 3, 4 }, new[] { 2, 4, 5 }, new[] { 2, 3, 5 } },
        new object[] { new[] { 2, 1, 3, 4 }, new[] { 3, 4, 5 }, new[] { 2, 3, 3, 5 } },
        new object[] { new[] { 1, 3, 4 }, new[] { 2, 4, 5 }, new[] { 2, 3, 5 } },
        new object[] { new[] { 2, 3, 4 }, new[] { 1, 4, 5 }, new[] { 2, 3, 5 } },
        new object[] { new[] { 1, 7 }, new[] { 7, 1 }, new[] { 1, 1 } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatmulValuesAndGradients(int[] sa, int[] sb, int[] so)
    {
        var a = Leaf(Randn(1, sa)); var b = Leaf(Randn(2, sb));
        var c = Ops.Matmul(a, b);
        Assert.Equal(new Shape(so), c.Shape);
        AssertClose(Reference(a, b, so), c.Span, 1e-5f, 1e-5f);
        GradCheck(t => Ops.Matmul(t[0], t[1]), new[] { a, b });
    }

    [Fact]
    public void VectorOperands()
    {
        var v = Leaf(Randn(3, 4)); var m = Leaf(Randn(4, 4, 5)); var w = Leaf(Randn(5, 5));
        Assert.Equal(new Shape(5), Ops.Matmul(v, m).Shape);
        Assert.Equal(new Shape(4), Ops.Matmul(m, w).Shape);
        Assert.Equal(Shape.Scalar, Ops.Matmul(v, v).Shape);
        var bm = Leaf(Randn(6, 2, 4, 5));
        Assert.Equal(new Shape(2, 5), Ops.Matmul(v, bm).Shape);
        GradCheck(t => Ops.Matmul(t[0], t[1]), new[] { v, m });
        GradCheck(t => Ops.Matmul(t[0], t[1]), new[] { m, w });
        GradCheck(t => Ops.Matmul(t[0], t[0]), new[] { v });
        GradCheck(t => Ops.Matmul(t[0], t[1]), new[] { v, bm });
        AssertClose(Reference(v.Reshape(1, 4), m, new[] { 1, 5 }), Ops.Matmul(v, m).Span, 1e-5f, 1e-5f);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void TransposeFlagsMatchExplicitTransposes(bool ta, bool tb)
    {
        foreach (var (sa, sb) in new[] { (new[] { 3, 4 }, new[] { 4, 5 }), (new[] { 2, 3, 4 }, new[] { 4, 5 }), (new[] { 2, 3, 4 }, new[] { 2, 4, 5 }), (new[] { 3, 4 }, new[] { 2, 4, 5 }) })
        {
            var a0 = Randn(7, sa); var b0 = Randn(8, sb);
            var a = Leaf(ta ? a0.Transpose(-1, -2).Clone() : a0.Clone());
            var b = Leaf(tb ? b0.Transpose(-1, -2).Clone() : b0.Clone());
            var expected = Ops.Matmul(a0, b0);
            AssertClose(expected, Ops.MatmulT(a, b, ta, tb), 1e-5f, 1e-5f, $"{ta}{tb}");
            GradCheck(t => Ops.MatmulT(t[0], t[1], ta, tb), new[] { a, b });
        }
    }

    [Fact]
    public void GradientSkipsFrozenOperand()
    {
        var x = Leaf(Randn(9, 2, 3, 4));
        var w = Randn(10, 4, 5);
        GradCheck(t => Ops.Matmul(t[0], w), new[] { x });
        var wl = Leaf(Randn(10, 4, 5));
        var xf = Randn(9, 2, 3, 4);
        GradCheck(t => Ops.Matmul(xf, t[0]), new[] { wl });
    }

    [Fact]
    public void LinearWithAndWithoutBias()
    {
        var x = Leaf(Randn(11, 2, 3, 4)); var w = Leaf(Randn(12, 5, 4)); var bias = Leaf(Randn(13, 5));
        GradCheck(t => Ops.Linear(t[0], t[1]), new[] { x, w });
        GradCheck(t => Ops.Linear(t[0], t[1], t[2]), new[] { x, w, bias });
        var v = Leaf(Randn(14, 4));
        GradCheck(t => Ops.Linear(t[0], t[1], t[2]), new[] { v, w, bias });
        var y = Ops.Linear(x, w, bias);
        Assert.Equal(new Shape(2, 3, 5), y.Shape);
        double s = bias[2];
        for (int p = 0; p < 4; p++) s += x[1, 2, p] * (double)w[2, p];
        Assert.Equal(s, y[1, 2, 2], 5);
    }

    [Fact]
    public void EmptyInnerDimensionGivesZeros()
    {
        var c = Ops.Matmul(Tensor.Zeros(3, 0), Tensor.Zeros(0, 2));
        Assert.Equal(new Shape(3, 2), c.Shape);
        Assert.All(c.ToArray(), v => Assert.Equal(0f, v));
    }
}
