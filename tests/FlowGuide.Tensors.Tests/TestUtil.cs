using FlowGuide.Tensors;

namespace FlowGuide.Tensors.Tests;

/// <summary>Shared helpers for the tensor tests: random tensors, closeness checks and the finite-difference gradient check.</summary>
public static class TestUtil
{
    public static Tensor Randn(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        var n = new Shape(shape).Numel;
        var d = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            d[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return Tensor.FromArray(d, shape);
    }

    public static Tensor Uniform(int seed, float lo, float hi, params int[] shape)
    {
        var rng = new Random(seed);
        var n = new Shape(shape).Numel;
        var d = new float[n];
        for (int i = 0; i < n; i++) d[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return Tensor.FromArray(d, shape);
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float rtol = 1e-5f, float atol = 1e-6f, string what = "")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(e) && float.IsNaN(a)) continue;
            if (e == a) continue;
            // Format the message only on failure: parity tests compare hundreds of thousands of elements.
            if (!(Math.Abs(e - a) <= atol + rtol * Math.Abs(e))) Assert.Fail($"{what}: element {i}: got {a}, expected {e}");
        }
    }

    public static void AssertClose(Tensor expected, Tensor actual, float rtol = 1e-5f, float atol = 1e-6f, string what = "")
    {
        Assert.Equal(expected.Shape, actual.Shape);
        AssertClose(expected.Span, actual.Span, rtol, atol, what);
    }

    /// <summary>
    /// Finite-difference gradient check: compares the autograd gradient of L = sum(f(inputs) * W), W fixed random, with
    /// central differences (step <paramref name="eps"/>, loss accumulated in double) for every element of every input
    /// that requires a gradient (or a random sample of <paramref name="maxPerInput"/> elements).
    /// </summary>
    public static void GradCheck(Func<Tensor[], Tensor> f, Tensor[] inputs, float eps = 1e-2f, float rtol = 2e-2f, float atol = 2e-3f, int maxPerInput = 64, int seed = 7)
    {
        foreach (var x in inputs) x.Grad = null;
        var outShape = f(inputs).Shape;
        var w = Randn(seed, outShape.ToArray());
        var wd = w.ToArray();

        double Loss()
        {
            using var _ = GradMode.NoGrad();
            var o = f(inputs).Span;
            double s = 0;
            for (int i = 0; i < o.Length; i++) s += (double)o[i] * wd[i];
            return s;
        }

        var y = f(inputs);
        var loss = Ops.Sum(Ops.Mul(y, w));
        loss.Backward();

        var rng = new Random(seed);
        for (int k = 0; k < inputs.Length; k++)
        {
            var x = inputs[k];
            if (!x.RequiresGrad) continue;
            Assert.True(x.Grad is not null, $"GradCheck: input {k} {x.Shape} received no gradient");
            var g = x.Grad!.ToArray();
            var data = x.Span;
            var idx = Enumerable.Range(0, x.Numel).ToArray();
            if (idx.Length > maxPerInput) idx = idx.OrderBy(_ => rng.Next()).Take(maxPerInput).ToArray();
            foreach (var i in idx)
            {
                float orig = data[i];
                data[i] = orig + eps; double lp = Loss();
                data[i] = orig - eps; double lm = Loss();
                data[i] = orig;
                double num = (lp - lm) / (2 * eps);
                Assert.True(Math.Abs(num - g[i]) <= atol + rtol * Math.Abs(num),
                    $"GradCheck: input {k} {x.Shape} element {i}: autograd {g[i]:G6}, finite difference {num:G6}");
            }
        }
    }

    /// <summary>
    /// Checks that a linear op's backward is the exact transpose of its forward: &lt;f(x), g&gt; == &lt;x, f^T(g)&gt; for a
    /// random g (accumulated in double). Catches a backward that drops or double-counts contributions at any size.
    /// </summary>
    public static void AssertAdjoint(Func<Tensor, Tensor> f, Tensor x, int seed)
    {
        var leaf = Leaf(x.Clone());
        var y = f(leaf);
        var g = Randn(seed, y.Shape.ToArray());
        var gx = Autograd.Grad(Ops.Sum(y * g), new[] { leaf })[0];
        double lhs = 0, rhs = 0;
        for (int i = 0; i < y.Numel; i++) lhs += (double)y.Span[i] * g.Span[i];
        for (int i = 0; i < x.Numel; i++) rhs += (double)x.Span[i] * gx.Span[i];
        Assert.True(Math.Abs(lhs - rhs) <= 1e-4 * (1 + Math.Abs(lhs)), $"adjoint: {lhs} vs {rhs}");
    }

    public static Tensor Leaf(Tensor t)
    {
        t.RequiresGrad = true;
        return t;
    }
}
