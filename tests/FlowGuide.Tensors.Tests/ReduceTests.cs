using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Reductions: gradients over single and non-adjacent axes, kernel parity, NaN and empty-axis behaviour.</summary>
public class ReduceTests
{
    public static IEnumerable<object?[]> AxisCases() => new[]
    {
        new object?[] { null, false },
        new object?[] { new[] { 1 }, false },
        new object?[] { new[] { 1 }, true },
        new object?[] { new[] { 0, 2 }, false },
        new object?[] { new[] { 0, 2 }, true },
        new object?[] { new[] { -1, 1 }, true },
        new object?[] { new[] { 0, 1, 2 }, true },
    };

    /// <summary>A [3, 4, 5] tensor of distinct values at least 0.05 apart (so max/min have no ties within eps).</summary>
    private static Tensor DistinctValues(int seed)
    {
        var rng = new Random(seed);
        var v = Enumerable.Range(0, 60).Select(i => (i - 30) * 0.1f).OrderBy(_ => rng.Next()).ToArray();
        return Tensor.FromArray(v, 3, 4, 5);
    }

    [Theory]
    [MemberData(nameof(AxisCases))]
    public void SumMeanVarGradients(int[]? axes, bool keepDim)
    {
        var x = Leaf(Randn(1, 3, 4, 5));
        GradCheck(t => Ops.Sum(t[0], axes, keepDim), new[] { x });
        GradCheck(t => Ops.Mean(t[0], axes, keepDim), new[] { x });
        GradCheck(t => Ops.Var(t[0], axes, unbiased: false, keepDim), new[] { x });
        GradCheck(t => Ops.Var(t[0], axes, unbiased: true, keepDim), new[] { x });
    }

    [Theory]
    [MemberData(nameof(AxisCases))]
    public void MaxMinLogSumExpGradients(int[]? axes, bool keepDim)
    {
        var x = Leaf(DistinctValues(2));
        GradCheck(t => Ops.Max(t[0], axes, keepDim), new[] { x });
        GradCheck(t => Ops.Min(t[0], axes, keepDim), new[] { x });
        GradCheck(t => Ops.LogSumExp(t[0], axes, keepDim), new[] { x }, eps: 1e-3f);
    }

    [Theory]
    [MemberData(nameof(AxisCases))]
    public void NormGradients(int[]? axes, bool keepDim)
    {
        var x = Leaf(DistinctValues(3));
        var d = x.Span;
        for (int i = 0; i < d.Length; i++) if (Math.Abs(d[i]) < 0.05f) d[i] = 0.35f * (i % 2 == 0 ? 1 : -1) + d[i]; // away from |x|'s kink
        foreach (var p in new[] { 1f, 2f, 3f })
            GradCheck(t => Ops.Norm(t[0], axes, p, keepDim), new[] { x }, eps: 1e-3f);
    }

    [Fact]
    public void ReducedShapesAndValues()
    {
        var x = Tensor.Arange(0, 24).Reshape(2, 3, 4);
        var s = Ops.Sum(x, new[] { 0, 2 });
        Assert.Equal(new Shape(3), s.Shape);
        Assert.Equal(new[] { 60f, 92f, 124f }, s.ToArray());
        Assert.Equal(new Shape(2, 1, 4), Ops.Sum(x, 1, keepDim: true).Shape);
        Assert.Equal(Shape.Scalar, Ops.Sum(x).Shape);
        Assert.Equal(276f, Ops.Sum(x).Item());
        Assert.Equal(11.5f, Ops.Mean(x).Item());
        Assert.Equal(new[] { 20f, 21f, 22f, 23f }, Ops.Max(x, new[] { 0, 1 }).ToArray());
        Assert.Equal(new[] { 0f, 4f, 8f }, Ops.Min(x, new[] { 0, 2 }).ToArray());
        var v = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 4);
        Assert.Equal(1.25f, Ops.Var(v).Item(), 6);
        Assert.Equal(5f / 3f, Ops.Var(v, unbiased: true).Item(), 6);
        Assert.Equal(MathF.Log(MathF.Exp(1) + MathF.Exp(2) + MathF.Exp(3) + MathF.Exp(4)), Ops.LogSumExp(v).Item(), 5);
        Assert.Equal(10f, Ops.Norm(v, p: 1f).Item(), 5);
        Assert.Equal(MathF.Sqrt(30f), Ops.Norm(v).Item(), 5);
        Assert.Equal(MathF.Pow(100f, 1f / 3f), Ops.Norm(v, p: 3f).Item(), 4);
    }

    [Fact]
    public void MaxTiesShareTheGradient()
    {
        var x = Leaf(Tensor.FromArray(new[] { 1f, 3f, 3f, 2f }, 4));
        Ops.Max(x).Backward();
        Assert.Equal(new[] { 0f, 0.5f, 0.5f, 0f }, x.Grad!.ToArray());
    }

    [Fact]
    public void LogSumExpIsStableForLargeAndInfiniteInputs()
    {
        var x = Tensor.FromArray(new[] { 1000f, 1000f, float.NegativeInfinity, float.NegativeInfinity }, 2, 2);
        var r = Ops.LogSumExp(x, new[] { 1 });
        Assert.Equal(1000f + MathF.Log(2f), r[0], 3);
        Assert.Equal(float.NegativeInfinity, r[1]);
    }

    [Fact]
    public void MaxMinWithIndicesGradientsAndFirstOccurrence()
    {
        var x = Leaf(DistinctValues(4));
        GradCheck(t => Ops.MaxWithIndices(t[0], 1).Values, new[] { x });
        GradCheck(t => Ops.MinWithIndices(t[0], -1, keepDim: true).Values, new[] { x });
        GradCheck(t => Ops.MaxWithIndices(t[0], 0, keepDim: true).Values, new[] { x });

        var y = Tensor.FromArray(new[] { 1f, 5f, 5f, 0f, 0f, -1f, 2f, -1f }, 2, 4);
        var (mv, mi) = Ops.MaxWithIndices(y, 1);
        Assert.Equal(new[] { 5f, 2f }, mv.ToArray());
        Assert.Equal(new[] { 1, 2 }, mi);
        var (nv, ni) = Ops.MinWithIndices(y, 1, keepDim: true);
        Assert.Equal(new Shape(2, 1), nv.Shape);
        Assert.Equal(new[] { 0f, -1f }, nv.ToArray());
        Assert.Equal(new[] { 3, 1 }, ni);
        Assert.Equal(new[] { 1, 2 }, Ops.Argmax(y, 1));
        // Reference: the reduction over the same axis gives the same values.
        var z = DistinctValues(5);
        AssertClose(Ops.Max(z, new[] { 1 }), Ops.MaxWithIndices(z, 1).Values, 0f, 0f);
        AssertClose(Ops.Min(z, new[] { 2 }), Ops.MinWithIndices(z, 2).Values, 0f, 0f);
    }

    // ------------------------------------------------------------------ NaN and empty axes

    [Fact]
    public void NaNPropagatesThroughEveryReduction()
    {
        var x = Tensor.FromArray(new[] { 1f, float.NaN, 3f, 4f, 5f, 6f }, 2, 3);
        foreach (var axis in new[] { 0, 1 })
        {
            var expectNaN = axis == 1 ? new[] { true, false } : new[] { false, true, false };
            foreach (var r in new[] { Ops.Sum(x, axis), Ops.Max(x, new[] { axis }), Ops.Min(x, new[] { axis }) })
                for (int i = 0; i < expectNaN.Length; i++)
                    Assert.Equal(expectNaN[i], float.IsNaN(r.Span[i]));
            var (mv, _) = Ops.MaxWithIndices(x, axis);
            for (int i = 0; i < expectNaN.Length; i++) Assert.Equal(expectNaN[i], float.IsNaN(mv.Span[i]));
            var (nv, _) = Ops.MinWithIndices(x, axis);
            for (int i = 0; i < expectNaN.Length; i++) Assert.Equal(expectNaN[i], float.IsNaN(nv.Span[i]));
        }
        Assert.Equal(1, Ops.MaxWithIndices(x, 1).Indices[0]); // the NaN's index
        // Long rows take the SIMD path of TensorPrimitives: NaN anywhere still wins.
        var big = Randn(1, 3, 1001);
        big[1, 777] = float.NaN;
        var m = Ops.Max(big, new[] { 1 });
        Assert.False(float.IsNaN(m[0])); Assert.True(float.IsNaN(m[1])); Assert.False(float.IsNaN(m[2]));
        var n = Ops.Min(big, new[] { 0 });
        Assert.True(float.IsNaN(n[777])); Assert.False(float.IsNaN(n[776]));
    }

    [Fact]
    public void EmptyAxisSumsToZeroAndMaxThrows()
    {
        var x = Tensor.Zeros(3, 0, 2);
        var s = Ops.Sum(x, 1);
        Assert.Equal(new Shape(3, 2), s.Shape);
        Assert.All(s.ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(0f, Ops.Sum(x).Item());
        Assert.True(float.IsNaN(Ops.Mean(x).Item()));
        var e = Assert.Throws<ArgumentException>(() => Ops.Max(x, new[] { 1 }));
        Assert.Contains("Max", e.Message);
        Assert.Contains("[3, 0, 2]", e.Message);
        Assert.Throws<ArgumentException>(() => Ops.Min(x));
        Assert.Throws<ArgumentException>(() => Ops.MaxWithIndices(x, 1));
        // Reducing a non-empty axis of an empty tensor is fine: the result is empty too.
        Assert.Equal(new Shape(0, 2), Ops.Max(x, new[] { 0 }).Shape);
        Assert.Equal(new Shape(3, 0), Ops.Max(x, new[] { 2 }).Shape);
        Assert.Throws<ArgumentException>(() => Reduce.ApplyScalar(ReduceOp.Max, ReadOnlySpan<float>.Empty, new Shape(3, 0, 2), new[] { 1 }));
    }

    // ------------------------------------------------------------------ kernel parity

    public static IEnumerable<object[]> ParityCases()
    {
        int[][] shapes = { new[] { 1 }, new[] { 7 }, new[] { 1003 }, new[] { 3, 7 }, new[] { 17, 1, 33 }, new[] { 3, 5, 7, 2 }, new[] { 2, 33, 1003 }, new[] { 70001 }, new[] { 3, 40000 }, new[] { 40000, 3 } };
        foreach (var s in shapes)
        {
            int r = s.Length;
            // Every non-empty subset of axes.
            for (int mask = 1; mask < 1 << r; mask++)
                yield return new object[] { s, Enumerable.Range(0, r).Where(a => (mask >> a & 1) != 0).ToArray() };
        }
    }

    [Theory]
    [MemberData(nameof(ParityCases))]
    public void ApplyMatchesScalarTwin(int[] shape, int[] axes)
    {
        var sh = new Shape(shape);
        var x = Randn(shape.Sum() + axes.Sum(), shape).ToArray();
        foreach (var op in Enum.GetValues<ReduceOp>())
        {
            var fast = Reduce.Apply(op, x, sh, axes, out var kept);
            var slow = Reduce.ApplyScalar(op, x, sh, axes);
            Assert.Equal(Reduce.KeptShape(sh, axes), kept);
            Assert.Equal(kept.Numel, fast.Length);
            int red = axes.Aggregate(1, (p, a) => p * shape[a]);
            // float sums against a double accumulation: error grows like sqrt(red) * eps * |terms|.
            float atol = op == ReduceOp.Sum ? 1e-6f * (float)Math.Sqrt(red) * 8 : 0f;
            AssertClose(slow, fast, op == ReduceOp.Sum ? 1e-5f : 0f, atol, $"{op} {sh} [{string.Join(",", axes)}]");
            var into = new float[kept.Numel];
            Reduce.Apply(op, x, sh, axes, into);
            Assert.Equal(fast, into);
        }
    }

    [Fact]
    public void ReductionOfLayoutOutputsMatchesIndexLoop()
    {
        var x = Randn(9, 4, 6, 5);
        var p = x.Permute(2, 0, 1).Slice(2, 1, 6, 2); // [5, 4, 3]
        var s = Ops.Sum(p, new[] { 0, 2 });
        for (int j = 0; j < 4; j++)
        {
            double acc = 0;
            for (int i = 0; i < 5; i++) for (int k = 0; k < 3; k++) acc += x[j, 1 + 2 * k, i];
            Assert.Equal(acc, s[j], 4);
        }
    }
}
