using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Softmax, log-softmax, LayerNorm and RMSNorm: kernel parity with the scalar twins, agreement with the composed ops, gradients.</summary>
public class NormTests
{
    public static TheoryData<int, int, int> SoftmaxShapes => new()
    {
        { 4, 1, 1 }, { 3, 3, 1 }, { 5, 17, 1 }, { 2, 255, 1 }, { 1, 1, 7 }, { 3, 17, 5 }, { 2, 3, 600 }, { 1, 255, 3 },
    };

    [Theory]
    [MemberData(nameof(SoftmaxShapes))]
    public void SoftmaxKernelsMatchScalarTwin(int outer, int n, int inner)
    {
        foreach (bool log in new[] { false, true })
        {
            var x = Randn(outer * 31 + n, outer * n * inner).Span;
            var g = Randn(n + 5, outer * n * inner).Span;
            var fast = new float[x.Length];
            var slow = new float[x.Length];
            SoftmaxKernels.Forward(x, fast, outer, n, inner, log);
            SoftmaxKernels.ForwardScalar(x, slow, outer, n, inner, log);
            AssertClose(slow, fast, 1e-5f, 1e-6f, $"forward log={log}");
            var dFast = new float[x.Length];
            var dSlow = new float[x.Length];
            SoftmaxKernels.Backward(slow, g, dFast, outer, n, inner, log);
            SoftmaxKernels.BackwardScalar(slow, g, dSlow, outer, n, inner, log);
            AssertClose(dSlow, dFast, 1e-4f, 1e-5f, $"backward log={log}");
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    public void SoftmaxMatchesComposedFormOnAPermutedInput(int axis)
    {
        var x = Ops.Permute(Randn(1, 5, 4, 6), 2, 0, 1);  // [6, 5, 4], produced by a layout op
        var expected = Ops.Exp(Ops.Sub(x, Ops.LogSumExp(x, new[] { axis }, keepDim: true)));
        AssertClose(expected, Ops.Softmax(x, axis), 1e-5f, 1e-6f);
        AssertClose(Ops.Log(expected), Ops.LogSoftmax(x, axis), 1e-4f, 1e-5f);
    }

    [Fact]
    public void SoftmaxIsStableForLargeInputs()
    {
        var x = Tensor.FromArray(new[] { 1000f, 1001f, 1002f, -1000f, 0f, 1000f }, 2, 3);
        var y = Ops.Softmax(x);
        Assert.All(y.ToArray(), v => Assert.True(float.IsFinite(v)));
        AssertClose(new[] { 0.09003057f, 0.24472847f, 0.66524096f, 0f, 0f, 1f }, y.Span, 1e-5f, 1e-7f);
        var ly = Ops.LogSoftmax(x);
        AssertClose(new[] { -2.40760596f, -1.40760596f, -0.40760596f, -2000f, -1000f, 0f }, ly.Span, 1e-5f, 1e-5f);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void SoftmaxGradCheck(int axis)
    {
        var x = Leaf(Randn(3, 3, 4, 5));
        GradCheck(a => Ops.Softmax(a[0], axis), new[] { x });
        GradCheck(a => Ops.LogSoftmax(a[0], axis), new[] { x });
    }

    public static TheoryData<int, int, bool, bool> NormShapes => new()
    {
        { 3, 1, true, true }, { 4, 3, false, false }, { 5, 17, true, false }, { 2, 255, false, true }, { 300, 64, true, true },
    };

    [Theory]
    [MemberData(nameof(NormShapes))]
    public void NormKernelsMatchScalarTwin(int rows, int n, bool hasW, bool hasB)
    {
        foreach (bool rms in new[] { false, true })
        {
            var x = Randn(rows + n, rows * n).ToArray();
            for (int i = 0; i < x.Length; i++) x[i] = 3f * x[i] + 1.5f;  // an offset mean the LayerNorm has to remove
            var w = hasW ? Randn(7, n).ToArray() : Array.Empty<float>();
            var b = hasB && !rms ? Randn(8, n).ToArray() : Array.Empty<float>();
            var g = Randn(9, rows * n).ToArray();
            float[] yF = new float[x.Length], yS = new float[x.Length], mF = new float[rows], mS = new float[rows], rF = new float[rows], rS = new float[rows];
            NormKernels.Forward(rms, x, w, b, yF, mF, rF, rows, n, 1e-5f);
            NormKernels.ForwardScalar(rms, x, w, b, yS, mS, rS, rows, n, 1e-5f);
            AssertClose(yS, yF, 1e-4f, 1e-5f, $"forward rms={rms}");
            AssertClose(rS, rF, 1e-4f, 1e-6f, $"rstd rms={rms}");
            float[] dxF = new float[x.Length], dxS = new float[x.Length], dwF = new float[hasW ? n : 0], dwS = new float[dwF.Length];
            float[] dbF = new float[b.Length], dbS = new float[b.Length];
            NormKernels.Backward(rms, x, w, mS, rS, g, dxF, dwF, dbF, rows, n);
            NormKernels.BackwardScalar(rms, x, w, mS, rS, g, dxS, dwS, dbS, rows, n);
            AssertClose(dxS, dxF, 1e-3f, 1e-5f, $"dx rms={rms}");
            AssertClose(dwS, dwF, 1e-4f, 1e-4f, $"dweight rms={rms}");
            AssertClose(dbS, dbF, 1e-4f, 1e-4f, $"dbias rms={rms}");
        }
    }

    [Fact]
    public void LayerNormMatchesComposedForm()
    {
        var x = Ops.Transpose(Randn(11, 6, 4, 10), 0, 1);  // [4, 6, 10] from a layout op
        var w = Randn(12, 10);
        var b = Randn(13, 10);
        var mean = Ops.Mean(x, -1, keepDim: true);
        var norm = Ops.Div(Ops.Sub(x, mean), Ops.Sqrt(Ops.AddScalar(Ops.Var(x, -1, keepDim: true), 1e-5f)));
        AssertClose(norm, Ops.LayerNorm(x, 10), 1e-4f, 1e-5f, "no affine");
        AssertClose(Ops.Add(Ops.Mul(norm, w), b), Ops.LayerNorm(x, 10, w, b), 1e-4f, 1e-5f, "affine");
        // Normalising over the last two dims equals normalising the flattened rows.
        var two = Ops.LayerNorm(x, new[] { 6, 10 });
        AssertClose(Ops.LayerNorm(Ops.Reshape(x, 4, 60), 60).Span, two.Span, 1e-5f, 1e-6f, "two dims");
    }

    [Fact]
    public void RmsNormMatchesComposedForm()
    {
        var x = Randn(14, 3, 5, 16);
        var w = Randn(15, 16);
        var expected = Ops.Mul(Ops.Mul(x, Ops.Rsqrt(Ops.AddScalar(Ops.Mean(Ops.Square(x), -1, keepDim: true), 1e-6f))), w);
        AssertClose(expected, Ops.RmsNorm(x, w, 1e-6f), 1e-4f, 1e-5f);
    }

    [Fact]
    public void LayerNormGradCheck()
    {
        var x = Leaf(Randn(21, 3, 4, 7));
        var w = Leaf(Randn(22, 7));
        var b = Leaf(Randn(23, 7));
        GradCheck(a => Ops.LayerNorm(a[0], 7, a[1], a[2]), new[] { x, w, b });
        GradCheck(a => Ops.LayerNorm(a[0], 7), new[] { x });
        GradCheck(a => Ops.LayerNorm(a[0], 7, null, a[1]), new[] { x, b });
        var w2 = Leaf(Randn(24, 4, 7));
        GradCheck(a => Ops.LayerNorm(a[0], new[] { 4, 7 }, a[1]), new[] { x, w2 });
    }

    [Fact]
    public void RmsNormGradCheck()
    {
        var x = Leaf(Randn(31, 2, 5, 9));
        var w = Leaf(Randn(32, 9));
        GradCheck(a => Ops.RmsNorm(a[0], a[1], 1e-6f), new[] { x, w });
        GradCheck(a => Ops.RmsNorm(a[0], null, 1e-6f), new[] { x });
    }

    [Fact]
    public void FrozenWeightsGetNoGradientAndInputGradientMatches()
    {
        var x = Leaf(Randn(41, 4, 8));
        var w = Randn(42, 8);
        var b = Randn(43, 8);
        var g = Autograd.Grad(Ops.Sum(Ops.Square(Ops.LayerNorm(x, 8, w, b))), new[] { x })[0];
        var wl = Leaf(w.Clone());
        var bl = Leaf(b.Clone());
        var xl = Leaf(x.Detach().Clone());
        Ops.Sum(Ops.Square(Ops.LayerNorm(xl, 8, wl, bl))).Backward();
        AssertClose(xl.Grad!, g, 1e-5f, 1e-6f);
        Assert.Null(w.Grad);
        Assert.NotNull(wl.Grad);
    }

    [Fact]
    public void BadShapesThrowNamingTheOp()
    {
        var x = Randn(1, 2, 5);
        Assert.Contains("LayerNorm", Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, 4)).Message);
        Assert.Contains("LayerNorm", Assert.Throws<ArgumentException>(() => Ops.LayerNorm(x, 5, Randn(2, 4))).Message);
        Assert.Contains("RmsNorm", Assert.Throws<ArgumentException>(() => Ops.RmsNorm(x, Randn(2, 4))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Softmax(x, 2));
    }
}
