using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    private static Tensor Map(UnaryOp op, Tensor a)
    {
        var o = Tensor.Empty(a.Shape);
        Unary.Apply(op, a.Span, o.Span);
        return o;
    }

    public static Tensor Neg(this Tensor a) => Autograd.Record(Map(UnaryOp.Neg, a), "Neg", (g, _) => new[] { Neg(g) }, a);

    /// <summary>|a|; the gradient at 0 is 0 (sign(0)).</summary>
    public static Tensor Abs(this Tensor a) => Autograd.Record(Map(UnaryOp.Abs, a), "Abs", (g, _) => new[] { Mul(g, Map(UnaryOp.Sign, a)) }, a);

    /// <summary>-1, 0 or 1; piecewise constant, so its gradient is zero (no node is recorded).</summary>
    public static Tensor Sign(this Tensor a) => Map(UnaryOp.Sign, a);

    public static Tensor Exp(this Tensor a)
    {
        var o = Map(UnaryOp.Exp, a);
        return Autograd.Record(o, "Exp", (g, _) => new[] { Mul(g, o) }, a);
    }

    public static Tensor Log(this Tensor a) => Autograd.Record(Map(UnaryOp.Log, a), "Log", (g, _) => new[] { Div(g, a) }, a);

    public static Tensor Sqrt(this Tensor a)
    {
        var o = Map(UnaryOp.Sqrt, a);
        return Autograd.Record(o, "Sqrt", (g, _) => new[] { Div(MulScalar(g, 0.5f), o) }, a);
    }

    /// <summary>1 / sqrt(a).</summary>
    public static Tensor Rsqrt(this Tensor a)
    {
        var o = Map(UnaryOp.Rsqrt, a);
        // d/da a^-1/2 = -1/2 a^-3/2 = -1/2 o^3
        return Autograd.Record(o, "Rsqrt", (g, _) => new[] { Mul(g, MulScalar(Mul(o, Mul(o, o)), -0.5f)) }, a);
    }

    public static Tensor Square(this Tensor a) =>
        Autograd.Record(Map(UnaryOp.Square, a), "Square", (g, _) => new[] { Mul(g, MulScalar(a, 2f)) }, a);

    public static Tensor Tanh(this Tensor a)
    {
        var o = Map(UnaryOp.Tanh, a);
        return Autograd.Record(o, "Tanh", (g, _) => new[] { Mul(g, RSub(Square(o), 1f)) }, a);
    }

    public static Tensor Sigmoid(this Tensor a)
    {
        var o = Map(UnaryOp.Sigmoid, a);
        return Autograd.Record(o, "Sigmoid", (g, _) => new[] { Mul(g, Mul(o, RSub(o, 1f))) }, a);
    }

    /// <summary>max(a, 0); the gradient at 0 is 0.</summary>
    public static Tensor Relu(this Tensor a) =>
        Autograd.Record(Map(UnaryOp.Relu, a), "Relu", (g, _) => new[] { Mul(g, Gt(a, 0f)) }, a);

    /// <summary>a * sigmoid(a), one fused kernel forward and backward.</summary>
    public static Tensor Silu(this Tensor a) => Autograd.Record(Map(UnaryOp.Silu, a), "Silu", (g, _) =>
    {
        var d = Tensor.Empty(a.Shape);
        Unary.SiluBackward(a.Span, g.Span, d.Span);
        return new[] { d };
    }, a);

    /// <summary>GELU, tanh approximation (PyTorch approximate="tanh"), one fused kernel forward and backward.</summary>
    public static Tensor Gelu(this Tensor a) => Autograd.Record(Map(UnaryOp.Gelu, a), "Gelu", (g, _) =>
    {
        var d = Tensor.Empty(a.Shape);
        Unary.GeluBackward(a.Span, g.Span, d.Span);
        return new[] { d };
    }, a);

    /// <summary>Limits values to [min, max]; the gradient passes only where the value was inside.</summary>
    public static Tensor Clamp(this Tensor a, float min = float.NegativeInfinity, float max = float.PositiveInfinity)
    {
        if (min > max) throw new ArgumentException($"Clamp: min {min} is greater than max {max}.");
        if (float.IsNaN(min) || float.IsNaN(max)) throw new ArgumentException($"Clamp: bounds must not be NaN, got [{min}, {max}].");
        var o = Tensor.Empty(a.Shape);
        // Max then Min (SIMD); NaN inputs stay NaN.
        System.Numerics.Tensors.TensorPrimitives.Max(a.Span, min, o.Span);
        System.Numerics.Tensors.TensorPrimitives.Min(o.Span, max, o.Span);
        return Autograd.Record(o, "Clamp", (g, _) =>
        {
            var m = Tensor.Empty(a.Shape);
            var ms = m.Span; var xs = a.Span;
            for (int i = 0; i < ms.Length; i++) ms[i] = xs[i] >= min && xs[i] <= max ? 1f : 0f;
            return new[] { Mul(g, m) };
        }, a);
    }
}
