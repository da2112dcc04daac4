using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using static FlowGuide.Tensors.Tests.TestUtil;

namespace FlowGuide.Tensors.Tests;

/// <summary>Unary ops: gradients, kernel parity with the scalar twin, and the fused Silu/Gelu against composed forms.</summary>
public class UnaryTests
{
    /// <summary>Inputs in [-2.5, 2.5] kept at least 0.05 away from 0 (the kink of abs/relu/sign).</summary>
    private static Tensor AwayFromZero(int seed, params int[] shape)
    {
        var t = Uniform(seed, 0.05f, 2.5f, shape);
        var rng = new Random(seed + 1000);
        var d = t.Span;
        for (int i = 0; i < d.Length; i++) if (rng.Next(2) == 0) d[i] = -d[i];
        return t;
    }

    [Fact]
    public void SmoothOpGradients()
    {
        var x = Leaf(Randn(1, 3, 7));
        GradCheck(t => Ops.Neg(t[0]), new[] { x });
        GradCheck(t => Ops.Exp(t[0]), new[] { x }, eps: 1e-3f);
        GradCheck(t => Ops.Square(t[0]), new[] { x });
        GradCheck(t => Ops.Tanh(t[0]), new[] { x }, eps: 1e-3f);
        GradCheck(t => Ops.Sigmoid(t[0]), new[] { x }, eps: 1e-3f);
        GradCheck(t => Ops.Silu(t[0]), new[] { x }, eps: 1e-3f);
        GradCheck(t => Ops.Gelu(t[0]), new[] { x }, eps: 1e-3f);
    }

    [Fact]
    public void PositiveDomainGradients()
    {
        var x = Leaf(Uniform(2, 0.3f, 3f, 4, 5));
        GradCheck(t => Ops.Log(t[0]), new[] { x }, eps: 1e-3f);
        GradCheck(t => Ops.Sqrt(t[0]), new[] { x }, eps: 1e-3f);
        GradCheck(t => Ops.Rsqrt(t[0]), new[] { x }, eps: 1e-3f);
    }

    [Fact]
    public void KinkedOpGradientsAwayFromKinks()
    {
        var x = Leaf(AwayFromZero(3, 5, 6));
        GradCheck(t => Ops.Abs(t[0]), new[] { x });
        GradCheck(t => Ops.Relu(t[0]), new[] { x });
        // Clamp bounds used below: move any value within 0.05 of one of them by 0.1.
        var d = x.Span;
        var kinks = new[] { -1f, 1f, -0.5f, 0.75f };
        for (int i = 0; i < d.Length; i++)
        {
            float v = d[i];
            if (kinks.Any(k => Math.Abs(v - k) < 0.05f)) d[i] = v + 0.1f;
        }
        GradCheck(t => Ops.Clamp(t[0], -1f, 1f), new[] { x });
        GradCheck(t => Ops.Clamp(t[0], min: -0.5f), new[] { x });
        GradCheck(t => Ops.Clamp(t[0], max: 0.75f), new[] { x });
    }

    [Fact]
    public void ClampForwardAndSignHaveNoGradient()
    {
        var x = Leaf(Tensor.FromArray(new[] { -2f, -0.5f, 0f, 0.5f, 2f }, 5));
        Assert.Equal(new[] { -1f, -0.5f, 0f, 0.5f, 1f }, Ops.Clamp(x, -1f, 1f).ToArray());
        var s = Ops.Sign(x);
        Assert.Equal(new[] { -1f, -1f, 0f, 1f, 1f }, s.ToArray());
        Assert.Null(s.GradFn);
        Assert.Equal(new[] { 0f, 0f, 0f, 0f, 0f }, Ops.Abs(Tensor.Zeros(5)).ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(1000)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(70001)]
    public void ApplyMatchesScalarTwin(int n)
    {
        var rng = new Random(n);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 12 - 6);
        if (n > 2) { x[0] = 0f; x[1] = -0f; }
        var pos = x.Select(v => Math.Abs(v) + 1e-3f).ToArray();
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            var src = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt ? pos : x;
            var fast = new float[n]; var slow = new float[n];
            Unary.Apply(op, src, fast);
            Unary.ApplyScalar(op, src, slow);
            float rtol = op is UnaryOp.Neg or UnaryOp.Abs or UnaryOp.Sign or UnaryOp.Relu or UnaryOp.Square or UnaryOp.Sqrt ? 0f : 2e-6f;
            // Gelu and Silu pass through zero: near their roots the relative error of either side is meaningless.
            float atol = op is UnaryOp.Gelu or UnaryOp.Silu or UnaryOp.Tanh ? 1e-7f : 0f;
            AssertClose(slow, fast, rtol, atol, $"{op} n={n}");
        }
    }

    [Fact]
    public void ApplyWorksInPlace()
    {
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            var x = Uniform(5, 0.1f, 3f, 5000).ToArray();
            var expected = new float[x.Length];
            Unary.ApplyScalar(op, x, expected);
            Unary.Apply(op, x, x);
            AssertClose(expected, x, 2e-6f, 1e-7f, op.ToString());
        }
    }

    [Fact]
    public void NaNPropagatesThroughEveryUnaryOp()
    {
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            var x = new[] { float.NaN, 1f };
            var fast = new float[2]; var slow = new float[2];
            Unary.Apply(op, x, fast);
            Unary.ApplyScalar(op, x, slow);
            Assert.True(float.IsNaN(fast[0]), $"{op} kernel: NaN in, {fast[0]} out");
            Assert.True(float.IsNaN(slow[0]), $"{op} twin: NaN in, {slow[0]} out");
        }
    }

    [Fact]
    public void SaturatedInputsGiveFiniteResults()
    {
        var x = new[] { -100f, -30f, 30f, 100f };
        foreach (var op in new[] { UnaryOp.Sigmoid, UnaryOp.Silu, UnaryOp.Gelu, UnaryOp.Tanh })
        {
            var fast = new float[4]; var slow = new float[4];
            Unary.Apply(op, x, fast);
            Unary.ApplyScalar(op, x, slow);
            AssertClose(slow, fast, 1e-6f, 1e-30f, op.ToString());
            Assert.All(fast, v => Assert.True(float.IsFinite(v), $"{op}: {v}"));
        }
        var gs = new float[4]; var gg = new float[4];
        Unary.SiluBackward(x, new[] { 1f, 1f, 1f, 1f }, gs);
        Unary.GeluBackward(x, new[] { 1f, 1f, 1f, 1f }, gg);
        AssertClose(new[] { 0f, 0f, 1f, 1f }, gs, 1e-6f, 1e-6f, "silu'");
        AssertClose(new[] { 0f, 0f, 1f, 1f }, gg, 1e-6f, 1e-6f, "gelu'");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(4099)]
    [InlineData(70001)]
    public void FusedBackwardKernelsMatchFiniteDifferencesOfScalarFormula(int n)
    {
        var rng = new Random(n);
        var x = new float[n]; var g = new float[n];
        for (int i = 0; i < n; i++) { x[i] = (float)(rng.NextDouble() * 10 - 5); g[i] = (float)(rng.NextDouble() * 2 - 1); }
        var ds = new float[n]; var dg = new float[n];
        Unary.SiluBackward(x, g, ds);
        Unary.GeluBackward(x, g, dg);
        for (int i = 0; i < n; i++)
        {
            double h = 1e-4, xi = x[i];
            double silu(double v) => v / (1 + Math.Exp(-v));
            double gelu(double v) => 0.5 * v * (1 + Math.Tanh(Unary.GeluC * (v + Unary.GeluA * v * v * v)));
            double es = g[i] * (silu(xi + h) - silu(xi - h)) / (2 * h);
            double eg = g[i] * (gelu(xi + h) - gelu(xi - h)) / (2 * h);
            if (!(Math.Abs(es - ds[i]) <= 2e-5 + 1e-5 * Math.Abs(es))) Assert.Fail($"silu' at {xi}: {ds[i]} vs {es}");
            if (!(Math.Abs(eg - dg[i]) <= 2e-5 + 1e-5 * Math.Abs(eg))) Assert.Fail($"gelu' at {xi}: {dg[i]} vs {eg}");
        }
    }

    [Fact]
    public void FusedSiluAndGeluMatchComposedForms()
    {
        var x = Randn(30, 6, 37);
        x.MulScalar(2f).Span.CopyTo(x.Span);
        var g = Randn(31, 6, 37);

        // Silu = x * sigmoid(x)
        var a = x.DetachedLeaf(); var b = x.DetachedLeaf();
        var fused = Ops.Silu(a);
        var composed = Ops.Mul(b, Ops.Sigmoid(b));
        AssertClose(composed, fused, 2e-6f, 1e-7f, "silu");
        fused.Backward(g); composed.Backward(g);
        AssertClose(b.Grad!, a.Grad!, 1e-5f, 1e-6f, "silu grad");

        // Gelu = 0.5 x (1 + tanh(c (x + a x^3)))
        a = x.DetachedLeaf(); b = x.DetachedLeaf();
        fused = Ops.Gelu(a);
        var inner = Ops.MulScalar(Ops.Add(b, Ops.MulScalar(Ops.PowScalar(b, 3f), Unary.GeluA)), Unary.GeluC);
        composed = Ops.MulScalar(Ops.Mul(b, Ops.AddScalar(Ops.Tanh(inner), 1f)), 0.5f);
        AssertClose(composed, fused, 2e-5f, 1e-6f, "gelu");
        fused.Backward(g); composed.Backward(g);
        AssertClose(b.Grad!, a.Grad!, 2e-5f, 1e-5f, "gelu grad");
    }

    [Fact]
    public void FusedSiluGradientOnLargeInputMatchesComposed()
    {
        // Large enough for the chunked/parallel backward path; checks against the composed gradient.
        var x = Randn(40, 70001);
        var a = x.DetachedLeaf(); var b = x.DetachedLeaf();
        Ops.Sum(Ops.Silu(a)).Backward();
        Ops.Sum(Ops.Mul(b, Ops.Sigmoid(b))).Backward();
        AssertClose(b.Grad!, a.Grad!, 1e-5f, 1e-6f, "silu grad");
    }
}
