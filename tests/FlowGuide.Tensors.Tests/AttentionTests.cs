using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Fused flash attention against its scalar twin and the composed reference; the tile GEMM against its twin.</summary>
public class AttentionTests
{
    [Theory]
    [InlineData(1, 1, 1, false)]
    [InlineData(4, 64, 64, false)]
    [InlineData(64, 64, 64, true)]
    [InlineData(37, 53, 24, false)]
    [InlineData(37, 53, 24, true)]
    [InlineData(5, 70, 3, true)]
    [InlineData(3, 17, 255, false)]
    public unsafe void BlockGemmMatchesScalarTwin(int m, int n, int k, bool transA)
    {
        foreach (bool accumulate in new[] { false, true })
        {
            int lda = (transA ? m : k) + 3, ldb = n + 5, ldc = n + 2;
            var a = Randn(m + n, (transA ? k : m) * lda).ToArray();
            var b = Randn(k + 1, k * ldb).ToArray();
            var c0 = Randn(7, m * ldc).ToArray();
            var fast = (float[])c0.Clone();
            var slow = (float[])c0.Clone();
            fixed (float* pa = a, pb = b, pf = fast, ps = slow)
            {
                BlockGemm.Run(pa, lda, transA, pb, ldb, pf, ldc, m, n, k, 0.7f, accumulate);
                BlockGemm.RunScalar(pa, lda, transA, pb, ldb, ps, ldc, m, n, k, 0.7f, accumulate);
            }
            AssertClose(slow, fast, 1e-4f, 1e-4f, $"accumulate={accumulate}");
        }
    }

    [Theory]
    [InlineData(2, 37, 53, 24, 24)]
    [InlineData(1, 130, 70, 16, 20)]
    [InlineData(3, 1, 1, 8, 8)]
    [InlineData(1, 65, 129, 64, 64)]
    public void KernelsMatchScalarTwins(int batch, int lq, int lk, int d, int dv)
    {
        var q = Randn(1, batch * lq * d).ToArray();
        var k = Randn(2, batch * lk * d).ToArray();
        var v = Randn(3, batch * lk * dv).ToArray();
        var g = Randn(4, batch * lq * dv).ToArray();
        float scale = 1f / MathF.Sqrt(d);
        float[] oF = new float[batch * lq * dv], oS = new float[oF.Length], lF = new float[batch * lq], lS = new float[lF.Length];
        AttentionKernels.Forward(q, k, v, oF, lF, batch, lq, lk, d, dv, scale);
        AttentionKernels.ForwardScalar(q, k, v, oS, lS, batch, lq, lk, d, dv, scale);
        AssertClose(oS, oF, 1e-4f, 1e-5f, "o");
        AssertClose(lS, lF, 1e-5f, 1e-5f, "lse");
        float[] dqF = new float[q.Length], dkF = new float[k.Length], dvF = new float[v.Length];
        float[] dqS = new float[q.Length], dkS = new float[k.Length], dvS = new float[v.Length];
        AttentionKernels.Backward(q, k, v, oF, lF, g, dqF, dkF, dvF, batch, lq, lk, d, dv, scale);
        AttentionKernels.BackwardScalar(q, k, v, g, dqS, dkS, dvS, batch, lq, lk, d, dv, scale);
        AssertClose(dqS, dqF, 1e-3f, 1e-4f, "dq");
        AssertClose(dkS, dkF, 1e-3f, 1e-4f, "dk");
        AssertClose(dvS, dvF, 1e-3f, 1e-4f, "dv");
        // Each gradient alone equals the same gradient computed alongside the others.
        var dkOnly = new float[k.Length];
        AttentionKernels.Backward(q, k, v, oF, lF, g, default, dkOnly, default, batch, lq, lk, d, dv, scale);
        AssertClose(dkF, dkOnly, 1e-5f, 1e-6f, "dk alone");
        var dvOnly = new float[v.Length];
        AttentionKernels.Backward(q, k, v, oF, lF, g, default, default, dvOnly, batch, lq, lk, d, dv, scale);
        AssertClose(dvF, dvOnly, 1e-5f, 1e-6f, "dv alone");
    }

    private static void CompareWithReference(int[] qShape, int[] kShape, int[] vShape, float? scale, float rtol, float atol)
    {
        var q = Leaf(Randn(11, qShape));
        var k = Leaf(Randn(12, kShape));
        var v = Leaf(Randn(13, vShape));
        var w = Randn(14, qShape[..^1].Append(vShape[^1]).ToArray());
        var fused = Ops.ScaledDotProductAttention(q, k, v, scale);
        var reference = Ops.AttentionReference(q, k, v, scale);
        AssertClose(reference, fused, rtol, atol, "output");
        var gf = Autograd.Grad(Ops.Sum(Ops.Mul(fused, w)), new[] { q, k, v });
        var gr = Autograd.Grad(Ops.Sum(Ops.Mul(reference, w)), new[] { q, k, v });
        AssertClose(gr[0], gf[0], rtol, atol, "dq");
        AssertClose(gr[1], gf[1], rtol, atol, "dk");
        AssertClose(gr[2], gf[2], rtol, atol, "dv");
    }

    [Fact]
    public void FusedMatchesReferenceOnOddLengths() =>
        CompareWithReference(new[] { 2, 3, 37, 24 }, new[] { 2, 3, 53, 24 }, new[] { 2, 3, 53, 24 }, null, 1e-3f, 1e-4f);

    [Fact]
    public void FusedMatchesReferenceWithCustomScaleAndValueWidth() =>
        CompareWithReference(new[] { 1, 2, 70, 16 }, new[] { 1, 2, 66, 16 }, new[] { 1, 2, 66, 12 }, 0.9f, 1e-3f, 1e-4f);

    [Fact]
    public void FusedMatchesReferenceOnCrossAttention1280To512() =>
        CompareWithReference(new[] { 1, 1, 1280, 4 }, new[] { 1, 1, 512, 4 }, new[] { 1, 1, 512, 4 }, null, 2e-3f, 1e-4f);

    [Fact]
    public void GradCheckSmall()
    {
        var q = Leaf(Randn(21, 1, 2, 5, 8));
        var k = Leaf(Randn(22, 1, 2, 7, 8));
        var v = Leaf(Randn(23, 1, 2, 7, 6));
        GradCheck(a => Ops.ScaledDotProductAttention(a[0], a[1], a[2]), new[] { q, k, v });
    }

    [Fact]
    public void InputsFromLayoutOpsAndRankThree()
    {
        // [B, L, H, D] -> [B, H, L, D] through Permute, as a model does after splitting heads.
        var x = Randn(31, 2, 19, 3, 8);
        var q = Ops.Permute(x, 0, 2, 1, 3);
        var k = Ops.Permute(Randn(32, 2, 23, 3, 8), 0, 2, 1, 3);
        var v = Ops.Permute(Randn(33, 2, 23, 3, 8), 0, 2, 1, 3);
        AssertClose(Ops.AttentionReference(q, k, v), Ops.ScaledDotProductAttention(q, k, v), 1e-4f, 1e-5f, "rank 4");
        var q3 = Ops.Reshape(q, 6, 19, 8);
        var k3 = Ops.Reshape(k, 6, 23, 8);
        var v3 = Ops.Reshape(v, 6, 23, 8);
        AssertClose(Ops.AttentionReference(q3, k3, v3), Ops.ScaledDotProductAttention(q3, k3, v3), 1e-4f, 1e-5f, "rank 3");
    }

    [Fact]
    public void NoTapeUnderNoGradAndOnlyRequestedGradients()
    {
        var q = Leaf(Randn(41, 1, 2, 9, 8));
        var k = Randn(42, 1, 2, 9, 8);
        var v = Randn(43, 1, 2, 9, 8);
        using (GradMode.NoGrad()) Assert.Null(Ops.ScaledDotProductAttention(q, k, v).GradFn);
        var gq = Autograd.Grad(Ops.Sum(Ops.ScaledDotProductAttention(q, k, v)), new[] { q })[0];
        var qr = Leaf(q.Detach().Clone());
        var gr = Autograd.Grad(Ops.Sum(Ops.AttentionReference(qr, k, v)), new[] { qr })[0];
        AssertClose(gr, gq, 1e-3f, 1e-5f);
    }

    [Fact]
    public unsafe void FastExpMatchesScalarTwinAndMathF()
    {
        var xs = new List<float> { 0f, -0f, 1f, -1f, 0.5f, -87f, -87.2f, -87.4f, -100f, 87.9f, 88f, 100f, float.NegativeInfinity, float.NaN, 1e-8f, -1e-8f };
        var rng = new Random(5);
        for (int i = 0; i < 2000; i++) xs.Add((float)(rng.NextDouble() * 170 - 86));
        for (int len = 0; len < 40; len++) xs.Add(-len * 0.37f);  // odd total length: exercises the scalar tail
        var a = xs.ToArray();
        var fast = (float[])a.Clone();
        fixed (float* p = fast) FastExp.ExpShift(p, fast.Length, 0f);
        for (int i = 0; i < a.Length; i++)
        {
            float twin = FastExp.ExpScalar(a[i]);
            if (float.IsNaN(a[i])) { Assert.True(float.IsNaN(fast[i]) && float.IsNaN(twin), $"NaN at {i}"); continue; }
            Assert.True(Math.Abs(fast[i] - twin) <= 1e-7f * Math.Abs(twin), $"x={a[i]}: vector {fast[i]}, scalar {twin}");
            float reference = a[i] < -87.3f ? 0f : MathF.Exp(Math.Min(a[i], 88f));
            Assert.True(Math.Abs(twin - reference) <= 3e-7f * Math.Abs(reference), $"x={a[i]}: {twin}, MathF.Exp {reference}");
        }
        // The fused sum equals the sum of the stored values; ShiftMul computes p * (row - shift).
        var row = Randn(6, 53).ToArray();
        var copy = (float[])row.Clone();
        float sum;
        fixed (float* p = row) sum = FastExp.ExpShiftSum(p, row.Length, 0.25f);
        AssertClose(copy.Select(v => MathF.Exp(v - 0.25f)).ToArray(), row, 3e-7f, 0f, "ExpShiftSum values");
        Assert.Equal(row.Sum(), sum, 4);
        var pr = Randn(7, 37).ToArray();
        var ds = Randn(8, 37).ToArray();
        var expected = ds.Select((v, i) => pr[i] * (v - 0.5f)).ToArray();
        fixed (float* pd = ds, pp = pr) FastExp.ShiftMul(pd, pp, ds.Length, 0.5f);
        AssertClose(expected, ds, 1e-6f, 1e-7f, "ShiftMul");
    }

    [Fact]
    public void BadShapesThrowNamingTheOp()
    {
        var q = Randn(1, 1, 2, 4, 8);
        Assert.Contains("ScaledDotProductAttention", Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, Randn(2, 1, 2, 4, 6), Randn(3, 1, 2, 4, 8))).Message);
        Assert.Contains("ScaledDotProductAttention", Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, Randn(2, 1, 2, 5, 8), Randn(3, 1, 2, 4, 8))).Message);
        Assert.Contains("ScaledDotProductAttention", Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(q, Randn(2, 1, 3, 4, 8), Randn(3, 1, 3, 4, 8))).Message);
        Assert.Contains("ScaledDotProductAttention", Assert.Throws<ArgumentException>(() => Ops.ScaledDotProductAttention(Randn(1, 4, 8), Randn(2, 4, 8), Randn(3, 4, 8))).Message);
    }
}
