using System.Numerics.Tensors;

namespace FlowGuide.Tensors.Kernels;

/// <summary>Reductions performed by <see cref="Reduce"/>.</summary>
public enum ReduceOp { Sum, Max, Min }

/// <summary>
/// Reductions over any set of axes. Adjacent reduced axes are merged and the tensor is seen as [outer, reduced, inner];
/// each group is reduced with SIMD over contiguous rows (inner == 1) or by accumulating inner-length rows.
/// </summary>
/// <remarks>
/// NaN propagates: a slice that holds a NaN reduces to NaN for Sum, Max and Min alike (the scalar twin agrees).
/// Over an empty axis Sum gives 0 and Max/Min throw.
/// </remarks>
public static class Reduce
{
    private const int MinWorkPerThread = 16384;

    /// <summary>The shape with every reduced axis set to 1.</summary>
    public static Shape KeptShape(Shape shape, int[] axes)
    {
        var dims = shape.ToArray();
        foreach (var a in axes) dims[a] = 1;
        return Shape.Wrap(dims);
    }

    /// <summary>Reduces <paramref name="x"/> of shape <paramref name="shape"/> over sorted, distinct <paramref name="axes"/>; returns the kept-dim shape.</summary>
    public static float[] Apply(ReduceOp op, ReadOnlySpan<float> x, Shape shape, int[] axes, out Shape keptShape)
    {
        keptShape = KeptShape(shape, axes);
        var o = new float[keptShape.Numel];
        Apply(op, x, shape, axes, o);
        return o;
    }

    /// <summary>
    /// Reduces <paramref name="x"/> over sorted, distinct <paramref name="axes"/> into <paramref name="output"/>, which holds
    /// <see cref="KeptShape"/>(shape, axes).Numel elements. A single run of adjacent axes reads x directly; each further
    /// run goes through one pooled intermediate buffer.
    /// </summary>
    public static void Apply(ReduceOp op, ReadOnlySpan<float> x, Shape shape, int[] axes, Span<float> output)
    {
        var dims = shape.ToArray();
        int outLen = KeptShape(shape, axes).Numel;
        if (x.Length < shape.Numel || output.Length < outLen)
            throw new ArgumentException($"Reduce.{op}: input holds {x.Length} and output {output.Length} elements, expected {shape.Numel} and {outLen} for {shape}.");
        foreach (var a in axes)
            if (dims[a] == 0 && op != ReduceOp.Sum)
                throw new ArgumentException($"Reduce.{op}: cannot reduce over axis {a} of size 0 in {shape}.");
        if (axes.Length == 0) { x[..outLen].CopyTo(output); return; }

        // Runs of adjacent axes, outermost first: its rows are the longest contiguous runs (SIMD adds of whole rows),
        // and the data shrinks before the short trailing rows are reduced. Reduced axes keep size 1, so indices stay valid.
        var runs = new List<(int start, int end)>();
        for (int g = 0; g < axes.Length;)
        {
            int start = axes[g], end = start;
            while (g + 1 < axes.Length && axes[g + 1] == end + 1) { g++; end++; }
            g++;
            runs.Add((start, end));
        }

        float[]? cur = null;
        try
        {
            for (int r = 0; r < runs.Count; r++)
            {
                var (start, end) = runs[r];
                int outer = 1, red = 1, inner = 1;
                for (int i = 0; i < start; i++) outer *= dims[i];
                for (int i = start; i <= end; i++) red *= dims[i];
                for (int i = end + 1; i < dims.Length; i++) inner *= dims[i];
                ReadOnlySpan<float> src = cur is null ? x : cur.AsSpan(0, outer * red * inner);
                bool last = r == runs.Count - 1;
                float[]? next = last ? null : BufferPool.Rent(outer * inner, clear: false);
                Group(op, src, outer, red, inner, last ? output[..(outer * inner)] : next);
                if (cur is not null) BufferPool.Return(cur, reusable: true);
                cur = next;
                for (int i = start; i <= end; i++) dims[i] = 1;
            }
        }
        finally
        {
            if (cur is not null) BufferPool.Return(cur, reusable: true);
        }
    }

    private static unsafe void Group(ReduceOp op, ReadOnlySpan<float> x, int outer, int red, int inner, Span<float> output)
    {
        if (outer * inner == 0) return;
        if (red == 0)
        {
            // Only Sum gets here (Apply rejects Max/Min over an empty axis).
            output.Clear();
            return;
        }
        fixed (float* px = x, po = output)
        {
            float* xp = px, op0 = po;
            if (inner == 1)
            {
                Parallelism.For(outer, Math.Max(1, MinWorkPerThread / red), (s, e) =>
                {
                    for (int i = s; i < e; i++)
                    {
                        var row = new ReadOnlySpan<float>(xp + (long)i * red, red);
                        op0[i] = op switch
                        {
                            ReduceOp.Sum => TensorPrimitives.Sum(row),
                            ReduceOp.Max => TensorPrimitives.Max(row),
                            _ => TensorPrimitives.Min(row),
                        };
                    }
                });
                return;
            }
            // Tasks are (outer index, block of inner columns): when outer is small (a sum over the leading axis) the
            // columns are what gets split across threads.
            int block = inner, threads = Parallelism.NumThreads;
            if (outer < threads && (long)red * inner >= 2L * MinWorkPerThread)
            {
                int perRow = (threads + outer - 1) / outer;
                block = Math.Min(inner, Math.Max(256, (inner + perRow - 1) / perRow));
            }
            int blocksPerRow = (inner + block - 1) / block;
            long workPerTask = (long)red * block;
            Parallelism.For(outer * blocksPerRow, (int)Math.Max(1, MinWorkPerThread / workPerTask), (s, e) =>
            {
                for (int t = s; t < e; t++)
                {
                    int i = t / blocksPerRow, c0 = t % blocksPerRow * block, len = Math.Min(block, inner - c0);
                    var dst = new Span<float>(op0 + (long)i * inner + c0, len);
                    float* baseRow = xp + (long)i * red * inner + c0;
                    new ReadOnlySpan<float>(baseRow, len).CopyTo(dst);
                    for (int r = 1; r < red; r++)
                    {
                        var row = new ReadOnlySpan<float>(baseRow + (long)r * inner, len);
                        switch (op)
                        {
                            case ReduceOp.Sum: TensorPrimitives.Add(dst, row, dst); break;
                            case ReduceOp.Max: TensorPrimitives.Max(dst, row, dst); break;
                            default: TensorPrimitives.Min(dst, row, dst); break;
                        }
                    }
                }
            });
        }
    }

    /// <summary>Scalar twin: a multi-index loop with double accumulation for sums.</summary>
    public static float[] ApplyScalar(ReduceOp op, ReadOnlySpan<float> x, Shape shape, int[] axes)
    {
        var dims = shape.ToArray();
        var kept = (int[])dims.Clone();
        foreach (var a in axes)
        {
            if (dims[a] == 0 && op != ReduceOp.Sum) throw new ArgumentException($"Reduce.{op}: cannot reduce over axis {a} of size 0 in {shape}.");
            kept[a] = 1;
        }
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
