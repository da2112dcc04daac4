using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

/// <summary>
/// The differentiable operations. Each file holds one family of primitives with its forward and backward side by side;
/// backward rules are written with these same ops (run under no-grad by the engine).
/// </summary>
public static partial class Ops
{
    private static Tensor BinaryForward(BinaryOp op, Tensor a, Tensor b)
    {
        var so = a.Shape == b.Shape ? a.Shape : Shape.Broadcast(a.Shape, b.Shape, op.ToString());
        var o = Tensor.Empty(so);
        Elementwise.Binary(op, a.Span, a.Shape, b.Span, b.Shape, o.Span, so);
        return o;
    }

    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(this Tensor a, Tensor b) =>
        Autograd.Record(BinaryForward(BinaryOp.Add, a, b), "Add", (g, _) => new[] { g, g }, a, b);

    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(this Tensor a, Tensor b) =>
        Autograd.Record(BinaryForward(BinaryOp.Sub, a, b), "Sub", (g, n) => new[] { g, n[1] ? Neg(g) : null }, a, b);

    /// <summary>a * b with broadcasting.</summary>
    public static Tensor Mul(this Tensor a, Tensor b) =>
        Autograd.Record(BinaryForward(BinaryOp.Mul, a, b), "Mul",
            (g, n) => new[] { n[0] ? Mul(g, b) : null, n[1] ? Mul(g, a) : null }, a, b);

    /// <summary>a / b with broadcasting.</summary>
    public static Tensor Div(this Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Div, a, b);
        return Autograd.Record(o, "Div", (g, n) => new[]
        {
            n[0] ? Div(g, b) : null,
            n[1] ? Neg(Div(Mul(g, o), b)) : null, // d(a/b)/db = -(a/b)/b
        }, a, b);
    }

    /// <summary>Elementwise maximum; the gradient goes to a where a &gt;= b, else to b.</summary>
    public static Tensor Maximum(this Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Max, a, b);
        return Autograd.Record(o, "Maximum", (g, n) =>
        {
            var mask = BinaryForward(BinaryOp.GreaterEqual, a, b);
            return new[] { n[0] ? Mul(g, mask) : null, n[1] ? Mul(g, RSub(mask, 1f)) : null };
        }, a, b);
    }

    /// <summary>Elementwise minimum; the gradient goes to a where a &lt;= b, else to b.</summary>
    public static Tensor Minimum(this Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Min, a, b);
        return Autograd.Record(o, "Minimum", (g, n) =>
        {
            var mask = BinaryForward(BinaryOp.LessEqual, a, b);
            return new[] { n[0] ? Mul(g, mask) : null, n[1] ? Mul(g, RSub(mask, 1f)) : null };
        }, a, b);
    }

    /// <summary>a ** b elementwise (both differentiable; d/db uses log a, so a must be positive there).</summary>
    public static Tensor Pow(this Tensor a, Tensor b)
    {
        var o = BinaryForward(BinaryOp.Pow, a, b);
        return Autograd.Record(o, "Pow", (g, n) => new[]
        {
            n[0] ? Mul(g, Mul(b, BinaryForward(BinaryOp.Pow, a, AddScalar(b, -1f)))) : null,
            n[1] ? Mul(g, Mul(o, Log(a))) : null,
        }, a, b);
    }

    // ------------------------------------------------------------ scalar variants (no broadcast buffers)

    public static Tensor AddScalar(this Tensor a, float s) =>
        Autograd.Record(UnaryMap(a, s, BinaryOp.Add), "AddScalar", (g, _) => new[] { g }, a);

    public static Tensor MulScalar(this Tensor a, float s) =>
        Autograd.Record(UnaryMap(a, s, BinaryOp.Mul), "MulScalar", (g, _) => new[] { MulScalar(g, s) }, a);

    /// <summary>s - a.</summary>
    public static Tensor RSub(this Tensor a, float s)
    {
        var o = Tensor.Empty(a.Shape);
        Elementwise.Binary(BinaryOp.Sub, new[] { s }, Shape.Scalar, a.Span, a.Shape, o.Span, a.Shape);
        return Autograd.Record(o, "RSub", (g, _) => new[] { Neg(g) }, a);
    }

    /// <summary>s / a.</summary>
    public static Tensor RDiv(this Tensor a, float s)
    {
        var o = Tensor.Empty(a.Shape);
        Elementwise.Binary(BinaryOp.Div, new[] { s }, Shape.Scalar, a.Span, a.Shape, o.Span, a.Shape);
        return Autograd.Record(o, "RDiv", (g, _) => new[] { Neg(Div(Mul(g, o), a)) }, a);
    }

    /// <summary>a ** p for a constant exponent.</summary>
    public static Tensor PowScalar(this Tensor a, float p)
    {
        var o = UnaryMap(a, p, BinaryOp.Pow);
        return Autograd.Record(o, "PowScalar", (g, _) => new[] { Mul(g, MulScalar(PowScalar(a, p - 1f), p)) }, a);
    }

    private static Tensor UnaryMap(Tensor a, float s, BinaryOp op)
    {
        var o = Tensor.Empty(a.Shape);
        Elementwise.Binary(op, a.Span, a.Shape, new[] { s }, Shape.Scalar, o.Span, a.Shape);
        return o;
    }

    // ------------------------------------------------------------ comparisons and masking (not differentiable)

    /// <summary>1 where a &gt; b, else 0 (broadcasting). Comparisons carry no gradient.</summary>
    public static Tensor Gt(this Tensor a, Tensor b) => BinaryForward(BinaryOp.Greater, a, b);
    public static Tensor Ge(this Tensor a, Tensor b) => BinaryForward(BinaryOp.GreaterEqual, a, b);
    public static Tensor Lt(this Tensor a, Tensor b) => BinaryForward(BinaryOp.Less, a, b);
    public static Tensor Le(this Tensor a, Tensor b) => BinaryForward(BinaryOp.LessEqual, a, b);
    public static Tensor Eq(this Tensor a, Tensor b) => BinaryForward(BinaryOp.Equal, a, b);
    public static Tensor Ne(this Tensor a, Tensor b) => BinaryForward(BinaryOp.NotEqual, a, b);
    public static Tensor Gt(this Tensor a, float s) => UnaryMap(a, s, BinaryOp.Greater);
    public static Tensor Lt(this Tensor a, float s) => UnaryMap(a, s, BinaryOp.Less);
    public static Tensor Ge(this Tensor a, float s) => UnaryMap(a, s, BinaryOp.GreaterEqual);
    public static Tensor Le(this Tensor a, float s) => UnaryMap(a, s, BinaryOp.LessEqual);

    /// <summary>
    /// cond ? a : b elementwise with broadcasting; <paramref name="condition"/> is nonzero for true. Gradients flow to
    /// a where the condition holds and to b elsewhere.
    /// </summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        var so = Shape.Broadcast(Shape.Broadcast(condition.Shape, a.Shape, "Where"), b.Shape, "Where");
        var mask = BinaryForward(BinaryOp.NotEqual, condition, Tensor.Scalar(0f));
        // where = b + mask * (a - b), computed without recording; NaN in the unselected branch must not leak.
        var o = Tensor.Empty(so);
        using (GradMode.NoGrad())
        {
            var m = Expand(mask, so.ToArray()); var ea = Expand(a, so.ToArray()); var eb = Expand(b, so.ToArray());
            var ms = m.Span; var sa = ea.Span; var sb = eb.Span; var d = o.Span;
            for (int i = 0; i < d.Length; i++) d[i] = ms[i] != 0 ? sa[i] : sb[i];
        }
        return Autograd.Record(o, "Where", (g, n) => new[]
        {
            n[0] ? Mul(g, mask) : null,
            n[1] ? Mul(g, RSub(mask, 1f)) : null,
        }, a, b);
    }

    /// <summary>Replaces elements where <paramref name="mask"/> is nonzero with <paramref name="value"/>.</summary>
    public static Tensor MaskedFill(this Tensor a, Tensor mask, float value) =>
        Where(mask, Tensor.Full(value, 1), a);
}
