using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>Normalises, sorts and de-duplicates axes; null or empty means all axes.</summary>
    internal static int[] NormalizeAxes(int[]? axes, int rank, string op)
    {
        if (axes is null || axes.Length == 0) return Enumerable.Range(0, rank).ToArray();
        var r = axes.Select(a => Shape.NormalizeAxis(a, rank, op)).Distinct().OrderBy(a => a).ToArray();
        if (r.Length != axes.Length) throw new ArgumentException($"{op}: repeated axis in [{string.Join(", ", axes)}].");
        // A rank-0 tensor accepts axis 0 (as PyTorch does) and has nothing to reduce over.
        return rank == 0 ? System.Array.Empty<int>() : r;
    }

    private static Shape DropAxes(Shape kept, int[] axes)
    {
        var d = new List<int>();
        for (int i = 0; i < kept.Rank; i++) if (Array.IndexOf(axes, i) < 0) d.Add(kept.Dims[i]);
        return Shape.Wrap(d.ToArray());
    }

    private static Tensor ReduceForward(ReduceOp op, Tensor x, int[] axes, bool keepDim, out Shape kept)
    {
        kept = Reduce.KeptShape(x.Shape, axes);
        var o = Tensor.Empty(keepDim ? kept : DropAxes(kept, axes));
        Reduce.Apply(op, x.Span, x.Shape, axes, o.Span);
        return o;
    }

    /// <summary>Sum over <paramref name="axes"/> (all when null); an empty axis sums to 0.</summary>
    public static Tensor Sum(this Tensor x, int[]? axes = null, bool keepDim = false)
    {
        var ax = NormalizeAxes(axes, x.Rank, "Sum");
        var o = ReduceForward(ReduceOp.Sum, x, ax, keepDim, out var kept);
        return Autograd.Record(o, "Sum", (g, _) => new[] { Expand(Reshape(g, kept.ToArray()), x.Shape.ToArray()) }, x);
    }

    public static Tensor Sum(this Tensor x, int axis, bool keepDim = false) => Sum(x, new[] { axis }, keepDim);

    /// <summary>Mean over <paramref name="axes"/> (all when null).</summary>
    public static Tensor Mean(this Tensor x, int[]? axes = null, bool keepDim = false)
    {
        var ax = NormalizeAxes(axes, x.Rank, "Mean");
        long count = 1;
        foreach (var a in ax) count *= x.Shape.Dims[a];
        return MulScalar(Sum(x, ax, keepDim), 1f / count);
    }

    public static Tensor Mean(this Tensor x, int axis, bool keepDim = false) => Mean(x, new[] { axis }, keepDim);

    /// <summary>Variance over <paramref name="axes"/>; population (divide by n) unless <paramref name="unbiased"/> (n - 1).</summary>
    public static Tensor Var(this Tensor x, int[]? axes = null, bool unbiased = false, bool keepDim = false)
    {
        var ax = NormalizeAxes(axes, x.Rank, "Var");
        long count = 1;
        foreach (var a in ax) count *= x.Shape.Dims[a];
        if (unbiased && count < 2) throw new ArgumentException($"Var: the unbiased variance needs at least 2 elements, got {count} over axes [{string.Join(", ", ax)}] of {x.Shape}.");
        var centered = Sub(x, Mean(x, ax, keepDim: true));
        return MulScalar(Sum(Square(centered), ax, keepDim), 1f / (unbiased ? count - 1 : count));
    }

    public static Tensor Var(this Tensor x, int axis, bool unbiased = false, bool keepDim = false) => Var(x, new[] { axis }, unbiased, keepDim);

    /// <summary>
    /// Maximum over <paramref name="axes"/>; ties share the gradient equally. A slice holding NaN gives NaN (and a NaN
    /// gradient for that slice); an empty reduced axis throws.
    /// </summary>
    public static Tensor Max(this Tensor x, int[]? axes = null, bool keepDim = false) => Extreme(ReduceOp.Max, x, axes, keepDim);

    /// <summary>Minimum over <paramref name="axes"/>; ties share the gradient equally. NaN and empty axes as for <see cref="Max"/>.</summary>
    public static Tensor Min(this Tensor x, int[]? axes = null, bool keepDim = false) => Extreme(ReduceOp.Min, x, axes, keepDim);

    private static Tensor Extreme(ReduceOp op, Tensor x, int[]? axes, bool keepDim)
    {
        var ax = NormalizeAxes(axes, x.Rank, op.ToString());
        foreach (var a in ax)
            if (x.Shape.Dims[a] == 0)
                throw new ArgumentException($"{op}: cannot reduce over axis {a} of size 0 in {x.Shape} (a maximum or minimum of nothing is undefined).");
        var o = ReduceForward(op, x, ax, keepDim, out var kept);
        return Autograd.Record(o, op.ToString(), (g, _) =>
        {
            var ok = Reshape(o, kept.ToArray());
            var mask = Eq(x, ok);
            var count = Sum(mask, ax, keepDim: true);
            return new[] { Mul(mask, Div(Reshape(g, kept.ToArray()), count)) };
        }, x);
    }

    /// <summary>Maximum along one axis with the index of the first maximum (PyTorch's max(dim)); a NaN counts as the maximum.</summary>
    public static (Tensor Values, int[] Indices) MaxWithIndices(this Tensor x, int axis, bool keepDim = false) => ArgReduce(x, axis, keepDim, true);

    /// <summary>Minimum along one axis with the index of the first minimum; a NaN counts as the minimum.</summary>
    public static (Tensor Values, int[] Indices) MinWithIndices(this Tensor x, int axis, bool keepDim = false) => ArgReduce(x, axis, keepDim, false);

    /// <summary>Index of the first maximum along <paramref name="axis"/>, one per remaining position (row-major).</summary>
    public static int[] Argmax(this Tensor x, int axis) => ArgReduce(x, axis, false, true).Indices;

    private static (Tensor Values, int[] Indices) ArgReduce(Tensor x, int axis, bool keepDim, bool max)
    {
        string op = max ? "MaxWithIndices" : "MinWithIndices";
        int ax = Shape.NormalizeAxis(axis, x.Rank, op);
        if (x.Rank == 0)
        {
            var (v, i) = ArgReduce(Reshape(x, 1), 0, keepDim: false, max);
            return (v, i);
        }
        int red = x.Shape.Dims[ax];
        if (red == 0) throw new ArgumentException($"{op}: axis {axis} of shape {x.Shape} is empty.");
        int outer = x.Shape.Prod(0, ax), inner = x.Shape.Prod(ax + 1, x.Rank);
        var kept = x.Shape.ToArray();
        kept[ax] = 1;
        var vals = Tensor.Empty(keepDim ? Shape.Wrap(kept) : DropAxes(Shape.Wrap(kept), new[] { ax }));
        var idx = new int[outer * inner];
        Reduce.ArgExtreme(x.Span, outer, red, inner, max, vals.Span, idx);
        var o = Autograd.Record(vals, op, (g, _) =>
        {
            var gx = Tensor.Zeros(x.Shape);
            var gs = g.Span; var d = gx.Span;
            for (int o2 = 0; o2 < outer; o2++)
                for (int i = 0; i < inner; i++)
                    d[(o2 * red + idx[o2 * inner + i]) * inner + i] = gs[o2 * inner + i];
            return new[] { gx };
        }, x);
        return (o, idx);
    }

    /// <summary>log(sum(exp(x))) over <paramref name="axes"/>, stabilised by the maximum.</summary>
    public static Tensor LogSumExp(this Tensor x, int[]? axes = null, bool keepDim = false)
    {
        var ax = NormalizeAxes(axes, x.Rank, "LogSumExp");
        Tensor m;
        using (GradMode.NoGrad())
        {
            m = Max(x, ax, keepDim: true);
            var ms = m.Span;
            for (int i = 0; i < ms.Length; i++) if (float.IsInfinity(ms[i])) ms[i] = 0f;
        }
        var r = Add(Log(Sum(Exp(Sub(x, m)), ax, keepDim: true)), m);
        return keepDim ? r : Reshape(r, DropAxes(r.Shape, ax).ToArray());
    }

    /// <summary>p-norm over <paramref name="axes"/> (Euclidean by default).</summary>
    public static Tensor Norm(this Tensor x, int[]? axes = null, float p = 2f, bool keepDim = false)
    {
        if (p <= 0) throw new ArgumentException($"Norm: p must be positive, got {p}.");
        if (p == 2f) return EuclideanNorm(x, axes, keepDim);
        if (p == 1f) return Sum(Abs(x), axes, keepDim);
        return PowScalar(Sum(PowScalar(Abs(x), p), axes, keepDim), 1f / p);
    }

    /// <summary>
    /// sqrt(sum x²) with gradient x / norm, and 0 (the minimum-norm subgradient, as PyTorch) where the norm is 0;
    /// composing Sqrt(Sum(Square)) would give 0·∞ = NaN there.
    /// </summary>
    private static Tensor EuclideanNorm(Tensor x, int[]? axes, bool keepDim)
    {
        var ax = NormalizeAxes(axes, x.Rank, "Norm");
        Tensor o;
        Shape kept;
        using (GradMode.NoGrad())
        {
            var sq = Sum(Square(x), ax, keepDim: true);
            kept = sq.Shape;
            o = Sqrt(sq);
        }
        var result = keepDim ? o : Reshape(o.Detach(), DropAxes(kept, ax).ToArray());
        return Autograd.Record(result, "Norm", (g, _) =>
        {
            var safe = o.Clone();
            var d = safe.Span;
            for (int i = 0; i < d.Length; i++) if (d[i] == 0f) d[i] = float.PositiveInfinity; // x / inf = 0
            return new[] { Mul(x, Div(Reshape(g, kept.ToArray()), safe)) };
        }, x);
    }

    /// <summary>Sums a broadcast gradient back to <paramref name="target"/> (the one place broadcasting is undone).</summary>
    public static Tensor SumToShape(Tensor g, Shape target, string op = "SumToShape")
    {
        if (g.Shape == target) return g;
        int lead = g.Rank - target.Rank;
        if (lead < 0) throw new ArgumentException($"{op}: gradient of shape {g.Shape} cannot be reduced to input shape {target}.");
        var axes = new List<int>();
        for (int i = 0; i < g.Rank; i++)
        {
            if (i < lead) { axes.Add(i); continue; }
            int t = target.Dims[i - lead];
            if (t == 1 && g.Shape.Dims[i] != 1) axes.Add(i);
            else if (t != g.Shape.Dims[i]) throw new ArgumentException($"{op}: gradient of shape {g.Shape} does not broadcast from input shape {target}.");
        }
        var s = axes.Count > 0 ? Sum(g, axes.ToArray(), keepDim: true) : g;
        return Reshape(s, target.ToArray());
    }
}
