using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Binary elementwise ops: gradients (with broadcasting) and parity of the broadcasting kernel with its scalar twin.</summary>
public class ElementwiseTests
{
    /// <summary>Broadcast shape pairs: same shape, trailing vector, middle/leading size-1 axes, scalar-shaped, rank-0.</summary>
    public static readonly int[][][] GradShapes =
    {
        new[] { new[] { 2, 3 }, new[] { 2, 3 } },
        new[] { new[] { 2, 3, 4 }, new[] { 4 } },
        new[] { new[] { 2, 1, 4 }, new[] { 3, 1 } },
        new[] { new[] { 3, 1 }, new[] { 2, 1, 4 } },
        new[] { new[] { 1 }, new[] { 2, 3 } },
        new[] { new[] { 2, 3 }, System.Array.Empty<int>() },
        new[] { new[] { 2, 1, 3 }, new[] { 1, 4, 1 } },
    };

    public static IEnumerable<object[]> ShapeCases() => Enumerable.Range(0, GradShapes.Length).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void AddSubMulGradients(int c)
    {
        var (sa, sb) = (GradShapes[c][0], GradShapes[c][1]);
        var a = Leaf(Randn(1, sa)); var b = Leaf(Randn(2, sb));
        GradCheck(x => x[0] + x[1], new[] { a, b });
        GradCheck(x => x[0] - x[1], new[] { a, b });
        GradCheck(x => x[0] * x[1], new[] { a, b });
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void DivGradients(int c)
    {
        var a = Leaf(Randn(3, GradShapes[c][0]));
        var b = Leaf(Uniform(4, 0.5f, 2f, GradShapes[c][1]));
        GradCheck(x => x[0] / x[1], new[] { a, b });
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void MaximumMinimumGradients(int c)
    {
        // Values on a lattice offset between a and b: never tied, never within eps of a tie.
        var a = Leaf(Lattice(5, GradShapes[c][0], 0f));
        var b = Leaf(Lattice(6, GradShapes[c][1], 0.25f));
        GradCheck(x => Ops.Maximum(x[0], x[1]), new[] { a, b }, eps: 1e-2f);
        GradCheck(x => Ops.Minimum(x[0], x[1]), new[] { a, b }, eps: 1e-2f);
    }

    [Theory]
    [MemberData(nameof(ShapeCases))]
    public void PowGradients(int c)
    {
        var a = Leaf(Uniform(7, 0.5f, 2f, GradShapes[c][0]));
        var b = Leaf(Uniform(8, -1.5f, 2f, GradShapes[c][1]));
        GradCheck(x => Ops.Pow(x[0], x[1]), new[] { a, b }, eps: 1e-3f);
    }

    [Fact]
    public void ScalarVariantGradients()
    {
        var a = Leaf(Uniform(9, 0.5f, 2f, 3, 5));
        GradCheck(x => x[0] + 1.5f, new[] { a });
        GradCheck(x => x[0] - 1.5f, new[] { a });
        GradCheck(x => x[0] * -2.5f, new[] { a });
        GradCheck(x => x[0] / 4f, new[] { a });
        GradCheck(x => 3f - x[0], new[] { a });
        GradCheck(x => 3f / x[0], new[] { a }, eps: 1e-3f);
        GradCheck(x => Ops.PowScalar(x[0], 2.5f), new[] { a }, eps: 1e-3f);
        GradCheck(x => Ops.PowScalar(x[0], -1.5f), new[] { a }, eps: 1e-3f);
        GradCheck(x => Ops.PowScalar(x[0], 3f), new[] { a }, eps: 1e-3f);
    }

    [Fact]
    public void WhereGradientsWithBroadcastCondition()
    {
        var cond = Tensor.FromArray(new[] { 1f, 0f, 1f, 0f }, 4);
        var a = Leaf(Randn(10, 3, 4));
        var b = Leaf(Randn(11, 3, 1));
        GradCheck(x => Ops.Where(cond, x[0], x[1]), new[] { a, b });
        var y = Ops.Where(cond, a, b);
        Assert.Equal(new Shape(3, 4), y.Shape);
        Assert.Equal(a[1, 0], y[1, 0]);
        Assert.Equal(b[1, 0], y[1, 1]);
    }

    [Fact]
    public void WhereDoesNotLeakNaNFromUnselectedBranch()
    {
        var cond = Tensor.FromArray(new[] { 1f, 0f }, 2);
        var a = Leaf(Tensor.FromArray(new[] { 1f, float.NaN }, 2));
        var b = Leaf(Tensor.FromArray(new[] { float.PositiveInfinity, 2f }, 2));
        var y = Ops.Where(cond, a, b);
        Assert.Equal(new[] { 1f, 2f }, y.ToArray());
        Ops.Sum(y).Backward();
        Assert.Equal(new[] { 1f, 0f }, a.Grad!.ToArray());
        Assert.Equal(new[] { 0f, 1f }, b.Grad!.ToArray());
    }

    [Fact]
    public void MaskedFillGradients()
    {
        var mask = Tensor.FromArray(new[] { 0f, 1f, 0f }, 1, 3);
        var a = Leaf(Randn(12, 2, 3));
        GradCheck(x => Ops.MaskedFill(x[0], mask, -7f), new[] { a });
        var y = Ops.MaskedFill(a, mask, -7f);
        Assert.Equal(-7f, y[1, 1]);
        Assert.Equal(a[1, 2], y[1, 2]);
    }

    [Fact]
    public void ComparisonsGiveOneOrZero()
    {
        var a = Tensor.FromArray(new[] { 1f, 2f, 3f }, 3);
        var b = Tensor.FromArray(new[] { 2f }, 1);
        Assert.Equal(new[] { 0f, 0f, 1f }, Ops.Gt(a, b).ToArray());
        Assert.Equal(new[] { 0f, 1f, 1f }, Ops.Ge(a, b).ToArray());
        Assert.Equal(new[] { 1f, 0f, 0f }, Ops.Lt(a, b).ToArray());
        Assert.Equal(new[] { 1f, 1f, 0f }, Ops.Le(a, b).ToArray());
        Assert.Equal(new[] { 0f, 1f, 0f }, Ops.Eq(a, b).ToArray());
        Assert.Equal(new[] { 1f, 0f, 1f }, Ops.Ne(a, b).ToArray());
        Assert.Equal(new[] { 0f, 0f, 1f }, Ops.Gt(a, 2f).ToArray());
        Assert.Equal(new[] { 1f, 1f, 0f }, Ops.Le(a, 2f).ToArray());
    }

    // ------------------------------------------------------------------ kernel parity

    /// <summary>Broadcast pairs with odd sizes; the last ones exceed 2^16 elements so the parallel paths run.</summary>
    public static readonly int[][][] ParityShapes =
    {
        new[] { new[] { 1 }, new[] { 1 } },
        new[] { new[] { 7 }, new[] { 7 } },
        new[] { new[] { 33 }, new[] { 1 } },
        new[] { new[] { 1 }, new[] { 17 } },
        new[] { System.Array.Empty<int>(), new[] { 3, 7 } },
        new[] { new[] { 3, 7 }, new[] { 7 } },
        new[] { new[] { 3, 7 }, new[] { 3, 1 } },
        new[] { new[] { 3, 1 }, new[] { 1, 7 } },
        new[] { new[] { 17, 1, 3 }, new[] { 1, 33, 1 } },
        new[] { new[] { 3, 1, 7, 1 }, new[] { 1, 17, 1, 3 } },
        new[] { new[] { 2, 3, 1, 5 }, new[] { 3, 7, 5 } },
        new[] { new[] { 1, 1, 33 }, new[] { 7, 3, 1 } },
        new[] { new[] { 1003 }, new[] { 1003 } },
        new[] { new[] { 70001 }, new[] { 70001 } },
        new[] { new[] { 70001 }, new[] { 1 } },
        new[] { new[] { 1 }, new[] { 70001 } },
        new[] { new[] { 33, 1003 }, new[] { 1003 } },
        new[] { new[] { 1003, 1 }, new[] { 1, 67 } },
        new[] { new[] { 17, 1, 1003 }, new[] { 17, 7, 1 } },
        new[] { new[] { 5, 1, 3, 1 }, new[] { 1, 4099, 1, 5 } },
    };

    public static IEnumerable<object[]> ParityCases() => Enumerable.Range(0, ParityShapes.Length).Select(i => new object[] { i });

    [Theory]
    [MemberData(nameof(ParityCases))]
    public void BinaryMatchesScalarTwinForAllOps(int c)
    {
        var sa = new Shape(ParityShapes[c][0]); var sb = new Shape(ParityShapes[c][1]);
        var so = Shape.Broadcast(sa, sb, "test");
        var a = ParityInput(2 * c, sa.Numel);
        var b = ParityInput(2 * c + 1, sb.Numel);
        var fast = new float[so.Numel];
        var slow = new float[so.Numel];
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            Elementwise.Binary(op, a, sa, b, sb, fast, so);
            Elementwise.BinaryScalar(op, a, sa, b, sb, slow, so);
            float rtol = op == BinaryOp.Pow ? 2e-6f : 0f;
            AssertClose(slow, fast, rtol, 0f, $"{op} {sa} {sb}");
        }
    }

    [Fact]
    public void MaxMinPropagateNaNInKernelAndTwin()
    {
        var a = new[] { float.NaN, 1f, 2f, float.NaN, -0f };
        var b = new[] { 1f, float.NaN, 3f, float.NaN, 0f };
        foreach (var op in new[] { BinaryOp.Max, BinaryOp.Min })
        {
            var fast = new float[5]; var slow = new float[5];
            var s = new Shape(5);
            Elementwise.Binary(op, a, s, b, s, fast, s);
            Elementwise.BinaryScalar(op, a, s, b, s, slow, s);
            Assert.True(float.IsNaN(fast[0]) && float.IsNaN(fast[1]) && float.IsNaN(fast[3]), op.ToString());
            Assert.Equal(op == BinaryOp.Max ? 3f : 2f, fast[2]);
            AssertClose(slow, fast, 0f, 0f, op.ToString());
        }
    }

    [Fact]
    public void NonContiguousSourcesFeedElementwiseOps()
    {
        // Permuted and sliced tensors are materialised; results must match an index-by-index computation.
        var x = Randn(20, 5, 7, 3);
        var p = x.Permute(2, 0, 1);                 // [3, 5, 7]
        var s = x.Slice(1, 1, 7, 2).Permute(1, 0, 2); // [3, 5, 3]
        var y = Ops.Add(Ops.Mul(p.Narrow(2, 0, 3), s), Tensor.Scalar(0.5f));
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++)
                for (int k = 0; k < 3; k++)
                    Assert.Equal(x[j, k, i] * x[j, 1 + 2 * i, k] + 0.5f, y[i, j, k], 6);
        var b = Ops.Maximum(p, Randn(21, 5, 1));
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++)
                for (int k = 0; k < 7; k++)
                    Assert.True(b[i, j, k] >= x[j, k, i]);
    }

    [Fact]
    public void GradientsThroughNonContiguousInputs()
    {
        var x = Leaf(Randn(22, 4, 3, 5));
        var w = Leaf(Randn(23, 5, 3));
        GradCheck(t => Ops.Mul(t[0].Permute(0, 2, 1), t[1]), new[] { x, w });
        GradCheck(t => Ops.Sub(t[0].Slice(2, 0, 5, 2), t[1].Slice(0, 1, 4, 1).Transpose(0, 1).Slice(1, 0, 3)), new[] { x, w });
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Values of the form k/2 + offset for small integers k: distinct lattices keep a and b at least 0.25 apart.</summary>
    internal static Tensor Lattice(int seed, int[] shape, float offset)
    {
        var rng = new Random(seed);
        var n = new Shape(shape).Numel;
        var d = new float[n];
        for (int i = 0; i < n; i++) d[i] = rng.Next(-6, 7) * 0.5f + offset;
        return Tensor.FromArray(d, shape);
    }

    /// <summary>Mostly positive values (so Pow is defined) with some exact ties, a zero and negatives for comparisons.</summary>
    private static float[] ParityInput(int seed, int n)
    {
        var rng = new Random(seed);
        var d = new float[n];
        for (int i = 0; i < n; i++)
        {
            int k = rng.Next(10);
            d[i] = k == 0 ? 1f : k == 1 ? -(float)rng.NextDouble() : 0.25f + 3f * (float)rng.NextDouble();
            if (rng.Next(97) == 0) d[i] = float.NaN; // NaN must agree too, also in the broadcast (scalar-run) paths
        }
        return d;
    }
}
