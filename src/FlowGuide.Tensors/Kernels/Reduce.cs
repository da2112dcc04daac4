using System.Numerics.Tensors;

namespace FlowGuide.Tensors.Kernels;

/// <summary>Reductions performed by <see cref="Reduce"/>.</summary>
public enum ReduceOp { Sum, Max, Min }

/// <summary>
/// Reductions over any set of axes. Adjacent reduced axes are merged and the tensor is seen as [outer, reduced, inner];
/// each group is reduced with SIMD over contiguous rows (inner == 1) or by accumulating inner-length rows.
/// </summary>
public static class Reduce
{
    /// <summary>Reduces <paramref name="x"/> of shape <paramref name="shape"/> over sorted, distinct <paramref name="axes"/>; returns the kept-dim shape.</summary>
    public static float[] Apply(ReduceOp op, ReadOnlySpan<float> x, Shape shape, int[] axes, out Shape keptShape)
    {
        var dims = shape.ToArray();
        float[] cur = x.ToArray();
        // Reduce from the last group to the first so earlier axis indices stay valid.
        int g = axes.Length - 1;
        while (g >= 0)
        {
            int end = axes[g], start = end;
            while (g > 0 && axes[g - 1] == start - 1) { g--; start--; }
            g--;
            int outer = 1, red = 1, inner = 1;
            for (int i = 0; i < start; i++) outer *= dims[i];
            for (int i = start; i <= end; i++) red *= dims[i];
            for (int i = end + 1; i < dims.Length; i++) inner *= dims[i];
            cur = Group(op, cur, outer, red, inner);
            for (int i = start; i <= end; i++) dims[i] = 1;
        }
        keptShape = Shape.Wrap(dims);
        return cur;
    }

    private static float[] Group(ReduceOp op, float[] x, int outer, int red, int inner)
    {
        var o = new float[outer * inner];
        if (red == 0)
        {
            if (op != ReduceOp.Sum) throw new ArgumentException($"Reduce.{op}: cannot reduce over an empty axis.");
            return o;
        }
        if (inner == 1)
        {
            Parallelism.For(outer, Math.Max(1, 16384 / red), (s, e) =>
            {
                for (int i = s; i < e; i++)
                {
                    var row = new ReadOnlySpan<float>(x, i * red, red);
                    o[i] = op switch
                    {
                        ReduceOp.Sum => TensorPrimitives.Sum(row),
                        ReduceOp.Max => TensorPrimitives.Max(row),
                        _ => TensorPrimitives.Min(row),
                    };
                }
            });
            return o;
        }
        Parallelism.For(outer, Math.Max(1, 16384 / (red * inner)), (s, e) =>
        {
            for (int i = s; i < e; i++)
            {
                var dst = new Span<float>(o, i * inner, inner);
                new ReadOnlySpan<float>(x, i * red * inner, inner).CopyTo(dst);
                for (int r = 1; r < red; r++)
                {
                    var row = new ReadOnlySpan<float>(x, (i * red + r) * inner, inner);
                    switch (op)
                    {
                        case ReduceOp.Sum: TensorPrimitives.Add(dst, row, dst); break;
                        case ReduceOp.Max: TensorPrimitives.Max(dst, row, dst); break;
                        default: TensorPrimitives.Min(dst, row, dst); break;
                    }
                }
            }
        });
        return o;
    }

    /// <summary>Scalar twin: a multi-index loop with double accumulation for sums.</summary>
    public static float[] ApplyScalar(ReduceOp op, ReadOnlySpan<float> x, Shape shape, int[] axes)
    {
        var dims = shape.ToArray();
        var kept = (int[])dims.Clone();
        foreach (var a in axes) kept[a] = 1;
        var ks = Shape.Wrap(kept);
        int n = ks.Numel;
        var acc = new double[n];
        var init = new bool[n];
        var keptStrides = ks.Strides();
        var idx = new int[dims.Length];
        for (int i = 0; i < x.Length; i++)
        {
            int rem = i, o = 0;
            for (int d = dims.Length - 1; d >= 0; d--)
            {
                idx[d] = rem % dims[d];
                rem /= dims[d];
                if (kept[d] != 1 || dims[d] == 1) o += idx[d] * keptStrides[d];
            }
            double v = x[i];
            if (!init[o]) { acc[o] = v; init[o] = true; continue; }
            acc[o] = op switch { ReduceOp.Sum => acc[o] + v, ReduceOp.Max => Math.Max(acc[o], v), _ => Math.Min(acc[o], v) };
        }
        var r = new float[n];
        for (int i = 0; i < n; i++) r[i] = (float)acc[i];
        return r;
    }

    /// <summary>Index of the maximum (or minimum) along the middle axis of [outer, red, inner]; first occurrence wins.</summary>
    public static void ArgExtreme(ReadOnlySpan<float> x, int outer, int red, int inner, bool max, Span<float> values, Span<int> indices)
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float bv = x[o * red * inner + i];
                for (int r = 1; r < red; r++)
                {
                    float v = x[(o * red + r) * inner + i];
                    if (float.IsNaN(bv)) break;
                    if (float.IsNaN(v) || (max ? v > bv : v < bv)) { bv = v; best = r; }
                }
                values[o * inner + i] = bv;
                indices[o * inner + i] = best;
            }
    }
}
