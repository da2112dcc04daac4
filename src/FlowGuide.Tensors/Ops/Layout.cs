using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>A view with a new shape (shares storage); one dimension may be -1 and is inferred.</summary>
    public static Tensor Reshape(this Tensor x, params int[] shape)
    {
        var dims = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"Reshape: more than one -1 in [{string.Join(", ", shape)}].");
                infer = i;
            }
            else if (dims[i] < 0) throw new ArgumentException($"Reshape: invalid dimension {dims[i]} in [{string.Join(", ", shape)}].");
            else known *= dims[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.Numel % known != 0)
                throw new ArgumentException($"Reshape: cannot infer -1 in [{string.Join(", ", shape)}] for {x.Numel} elements of {x.Shape}.");
            dims[infer] = (int)(x.Numel / known);
            known *= dims[infer];
        }
        if (known != x.Numel)
            throw new ArgumentException($"Reshape: shape [{string.Join(", ", shape)}] has {known} elements, tensor {x.Shape} has {x.Numel}.");
        var o = new Tensor(x.Storage, Shape.Wrap(dims));
        return Autograd.Record(o, "Reshape", (g, _) => new[] { Reshape(g, x.Shape.ToArray()) }, x);
    }

    /// <summary>Same as <see cref="Reshape"/>: storage is always contiguous, so every reshape is a view.</summary>
    public static Tensor View(this Tensor x, params int[] shape) => Reshape(x, shape);

    /// <summary>Merges axes [start, end] into one.</summary>
    public static Tensor Flatten(this Tensor x, int start = 0, int end = -1)
    {
        if (x.Rank == 0) return Reshape(x, 1);
        int s = Shape.NormalizeAxis(start, x.Rank, "Flatten"), e = Shape.NormalizeAxis(end, x.Rank, "Flatten");
        if (s > e) throw new ArgumentException($"Flatten: start axis {start} comes after end axis {end} in {x.Shape}.");
        var d = new List<int>();
        for (int i = 0; i < s; i++) d.Add(x.Shape.Dims[i]);
        d.Add(x.Shape.Prod(s, e + 1));
        for (int i = e + 1; i < x.Rank; i++) d.Add(x.Shape.Dims[i]);
        return Reshape(x, d.ToArray());
    }

    public static Tensor Unsqueeze(this Tensor x, int axis)
    {
        int a = Shape.NormalizeAxis(axis, x.Rank + 1, "Unsqueeze");
        var d = x.Shape.ToArray().ToList();
        d.Insert(a, 1);
        return Reshape(x, d.ToArray());
    }

    /// <summary>Removes <paramref name="axis"/> (which must have size 1), or every size-1 axis when null.</summary>
    public static Tensor Squeeze(this Tensor x, int? axis = null)
    {
        var d = x.Shape.ToArray().ToList();
        if (x.Rank == 0) return x;
        if (axis is { } ax)
        {
            int a = Shape.NormalizeAxis(ax, x.Rank, "Squeeze");
            if (d[a] != 1) throw new ArgumentException($"Squeeze: axis {ax} of {x.Shape} has size {d[a]}, expected 1.");
            d.RemoveAt(a);
        }
        else d.RemoveAll(v => v == 1);
        return Reshape(x, d.ToArray());
    }

    /// <summary>Reorders axes: output axis i is input axis perm[i].</summary>
    public static Tensor Permute(this Tensor x, params int[] perm)
    {
        if (perm.Length != x.Rank) throw new ArgumentException($"Permute: {perm.Length} axes given for a rank-{x.Rank} tensor {x.Shape}.");
        var p = perm.Select(a => Shape.NormalizeAxis(a, x.Rank, "Permute")).ToArray();
        if (p.Distinct().Count() != p.Length) throw new ArgumentException($"Permute: [{string.Join(", ", perm)}] is not a permutation.");
        bool identity = true;
        for (int i = 0; i < p.Length; i++) identity &= p[i] == i;
        if (identity) return x;
        var st = x.Shape.Strides();
        var dims = new int[p.Length];
        var src = new long[p.Length];
        for (int i = 0; i < p.Length; i++) { dims[i] = x.Shape.Dims[p[i]]; src[i] = st[p[i]]; }
        var o = Tensor.Empty(Shape.Wrap(dims));
        Layout.StridedCopy(x.Span, 0, src, o.Span, dims);
        var inv = new int[p.Length];
        for (int i = 0; i < p.Length; i++) inv[p[i]] = i;
        return Autograd.Record(o, "Permute", (g, _) => new[] { Permute(g, inv) }, x);
    }

    /// <summary>Swaps two axes.</summary>
    public static Tensor Transpose(this Tensor x, int a, int b)
    {
        var p = Enumerable.Range(0, x.Rank).ToArray();
        int i = Shape.NormalizeAxis(a, x.Rank, "Transpose"), j = Shape.NormalizeAxis(b, x.Rank, "Transpose");
        if (x.Rank == 0) return x;
        (p[i], p[j]) = (p[j], p[i]);
        return Permute(x, p);
    }

    /// <summary>Broadcasts to <paramref name="shape"/> (NumPy rules; -1 keeps a size), materialised.</summary>
    public static Tensor Expand(this Tensor x, params int[] shape)
    {
        var dims = (int[])shape.Clone();
        int lead = dims.Length - x.Rank;
        if (lead < 0) throw new ArgumentException($"Expand: cannot expand {x.Shape} to fewer dimensions [{string.Join(", ", shape)}].");
        for (int i = 0; i < dims.Length; i++)
        {
            int src = i >= lead ? x.Shape.Dims[i - lead] : 1;
            if (dims[i] == -1) dims[i] = src;
            if (dims[i] < 0 || (i < lead && shape[i] == -1))
                throw new ArgumentException($"Expand: invalid size {shape[i]} at axis {i} of [{string.Join(", ", shape)}] for {x.Shape} (sizes are non-negative; -1 keeps an existing axis).");
            if (src != 1 && src != dims[i])
                throw new ArgumentException($"Expand: cannot expand {x.Shape} to [{string.Join(", ", shape)}] (axis {i}: {src} vs {dims[i]}).");
        }
        var target = Shape.Wrap(dims);
        if (target == x.Shape) return x;
        var strides = Elementwise.AlignedStrides(x.Shape, dims.Length);
        var o = Tensor.Empty(target);
        Layout.StridedCopy(x.Span, 0, strides, o.Span, dims);
        return Autograd.Record(o, "Expand", (g, _) => new[] { g }, x); // the engine sums g back to x's shape
    }

    /// <summary>Tiles the tensor: output axis i is the input axis repeated reps[i] times (torch.Tensor.repeat).</summary>
    public static Tensor Repeat(this Tensor x, params int[] reps)
    {
        if (reps.Length < x.Rank) throw new ArgumentException($"Repeat: {reps.Length} repeat counts for a rank-{x.Rank} tensor {x.Shape}.");
        int lead = reps.Length - x.Rank;
        // View as [r0, d0, r1, d1, ...], expand the r axes, then merge pairs.
        var src = new List<int>(); var exp = new List<int>(); var final = new int[reps.Length];
        for (int i = 0; i < reps.Length; i++)
        {
            if (reps[i] < 0) throw new ArgumentException($"Repeat: negative repeat count {reps[i]}.");
            int d = i >= lead ? x.Shape.Dims[i - lead] : 1;
            src.Add(1); src.Add(d); exp.Add(reps[i]); exp.Add(d);
            final[i] = reps[i] * d;
        }
        return Reshape(Expand(Reshape(x, src.ToArray()), exp.ToArray()), final);
    }

    /// <summary>Elements [start, start + length) along <paramref name="axis"/>.</summary>
    public static Tensor Narrow(this Tensor x, int axis, int start, int length)
    {
        int a = Shape.NormalizeAxis(axis, x.Rank, "Narrow");
        int size = x.Shape.Dims[a];
        if (start < 0) start += size;
        if (start < 0 || length < 0 || start + length > size)
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: range [{start}, {start + length}) is outside axis {axis} of size {size} in {x.Shape}.");
        return Slice(x, a, start, start + length, 1);
    }

    /// <summary>Python-style x[..., start:end:step, ...] along <paramref name="axis"/> (negative start/end count from the end; step &gt; 0).</summary>
    public static Tensor Slice(this Tensor x, int axis, int start, int end, int step = 1)
    {
        int a = Shape.NormalizeAxis(axis, x.Rank, "Slice");
        int size = x.Shape.Dims[a];
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive, got {step}.");
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.Clamp(start, 0, size);
        end = Math.Clamp(end, start, size);
        int len = (end - start + step - 1) / step;
        if (start == 0 && len == size && step == 1) return x;
        var dims = x.Shape.ToArray();
        dims[a] = len;
        var st = x.Shape.Strides();
        var src = st.Select(v => (long)v).ToArray();
        src[a] *= step;
        long offset = (long)start * st[a];
        var o = Tensor.Empty(Shape.Wrap(dims));
        Layout.StridedCopy(x.Span, offset, src, o.Span, dims);
        return Autograd.Record(o, "Slice", (g, _) =>
        {
            var gx = Tensor.Zeros(x.Shape);
            Layout.StridedScatter(g.Span, gx.Span, offset, src, dims);
            return new[] { gx };
        }, x);
    }

    /// <summary>Joins tensors along an existing axis; all other dimensions must match.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> xs, int axis)
    {
        if (xs.Count == 0) throw new ArgumentException("Concat: no tensors given.");
        var first = xs[0];
        int a = Shape.NormalizeAxis(axis, first.Rank, "Concat");
        int total = 0;
        foreach (var t in xs)
        {
            bool ok = t.Rank == first.Rank;
            for (int i = 0; ok && i < t.Rank; i++) ok = i == a || t.Shape.Dims[i] == first.Shape.Dims[i];
            if (!ok) throw new ArgumentException($"Concat: shapes [{string.Join(", ", xs.Select(s => s.Shape.ToString()))}] differ outside axis {axis}.");
            total += t.Shape.Dims[a];
        }
        var dims = first.Shape.ToArray();
        dims[a] = total;
        var o = Tensor.Empty(Shape.Wrap(dims));
        int outer = first.Shape.Prod(0, a), inner = first.Shape.Prod(a + 1, first.Rank);
        var od = o.Span;
        int off = 0;
        foreach (var t in xs)
        {
            int block = t.Shape.Dims[a] * inner;
            var td = t.Span;
            if (block >= 16)
                for (int r = 0; r < outer; r++) td.Slice(r * block, block).CopyTo(od.Slice(r * total * inner + off, block));
            else
                for (int r = 0, d = off; r < outer; r++, d += total * inner)   // short blocks (a Stack on the last axis): no per-block slicing
                    for (int j = 0; j < block; j++) od[d + j] = td[r * block + j];
            off += block;
        }
        var inputs = xs.ToArray();
        return Autograd.Record(o, "Concat", (g, n) =>
        {
            var r = new Tensor?[inputs.Length];
            int start = 0;
            for (int i = 0; i < inputs.Length; i++)
            {
                int len = inputs[i].Shape.Dims[a];
                if (n[i]) r[i] = Narrow(g, a, start, len);
                start += len;
            }
            return r;
        }, inputs);
    }

    /// <summary>Joins tensors of equal shape along a new axis.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> xs, int axis)
    {
        if (xs.Count == 0) throw new ArgumentException("Stack: no tensors given.");
        foreach (var t in xs)
            if (t.Shape != xs[0].Shape) throw new ArgumentException($"Stack: shapes [{string.Join(", ", xs.Select(s => s.Shape.ToString()))}] differ.");
        int a = Shape.NormalizeAxis(axis, xs[0].Rank + 1, "Stack");
        return Concat(xs.Select(t => Unsqueeze(t, a)).ToArray(), a);
    }

    /// <summary>Splits into pieces of the given sizes along <paramref name="axis"/>; the sizes must add up to the axis.</summary>
    public static Tensor[] Split(this Tensor x, int[] sizes, int axis)
    {
        int a = Shape.NormalizeAxis(axis, x.Rank, "Split");
        if (sizes.Sum() != x.Shape.Dims[a] || sizes.Any(s => s < 0))
            throw new ArgumentException($"Split: sizes [{string.Join(", ", sizes)}] do not add up to axis {axis} of size {x.Shape.Dims[a]} in {x.Shape}.");
        var r = new Tensor[sizes.Length];
        int start = 0;
        for (int i = 0; i < sizes.Length; i++) { r[i] = Narrow(x, a, start, sizes[i]); start += sizes[i]; }
        return r;
    }

    /// <summary>Splits into pieces of <paramref name="size"/> along <paramref name="axis"/> (the last may be smaller).</summary>
    public static Tensor[] Split(this Tensor x, int size, int axis)
    {
        if (size <= 0) throw new ArgumentException($"Split: piece size must be positive, got {size}.");
        int n = x.Shape[axis];
        var sizes = new List<int>();
        for (int s = 0; s < n; s += size) sizes.Add(Math.Min(size, n - s));
        return Split(x, sizes.ToArray(), axis);
    }

    /// <summary>Splits into <paramref name="chunks"/> nearly equal pieces (torch.chunk: ceil-sized, last smaller).</summary>
    public static Tensor[] Chunk(this Tensor x, int chunks, int axis)
    {
        if (chunks <= 0) throw new ArgumentException($"Chunk: number of chunks must be positive, got {chunks}.");
        int n = x.Shape[axis];
        return Split(x, Math.Max(1, (n + chunks - 1) / chunks), axis);
    }

    /// <summary>Reverses the order of elements along each of <paramref name="axes"/>; no axes means every axis.</summary>
    public static Tensor Flip(this Tensor x, params int[] axes)
    {
        var ax = NormalizeAxes(axes, x.Rank, "Flip");
        var st = x.Shape.Strides().Select(v => (long)v).ToArray();
        long offset = 0;
        foreach (var a in ax)
        {
            offset += (long)(x.Shape.Dims[a] - 1) * st[a];
            st[a] = -st[a];
        }
        var o = Tensor.Empty(x.Shape);
        if (x.Numel > 0) Layout.StridedCopy(x.Span, offset, st, o.Span, x.Shape.ToArray());
        return Autograd.Record(o, "Flip", (g, _) => new[] { Flip(g, ax) }, x);
    }
}
