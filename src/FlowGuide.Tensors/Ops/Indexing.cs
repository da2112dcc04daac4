using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Picks the slices <paramref name="indices"/> along <paramref name="axis"/> (torch.index_select): the output has
    /// indices.Length positions on that axis. Indices may repeat (the backward pass adds their gradients) and must lie in
    /// [0, size); negative indices are rejected rather than wrapped.
    /// </summary>
    public static Tensor IndexSelect(this Tensor x, int axis, int[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (x.Rank == 0) throw new ArgumentException($"IndexSelect: input must have at least one axis, got a scalar.");
        int a = Shape.NormalizeAxis(axis, x.Rank, "IndexSelect");
        int size = x.Shape.Dims[a];
        foreach (var i in indices) CheckIndex("IndexSelect", a, i, size, x.Shape);
        var map = (int[])indices.Clone();
        int outer = x.Shape.Prod(0, a), inner = x.Shape.Prod(a + 1, x.Rank);
        var dims = x.Shape.ToArray();
        dims[a] = map.Length;
        var o = Tensor.Empty(Shape.Wrap(dims));
        IndexingKernels.AxisGather(x.Span, outer, size, inner, map, o.Span);
        return Autograd.Record(o, "IndexSelect", (g, _) =>
        {
            var gx = Tensor.Zeros(x.Shape);
            IndexingKernels.AxisScatterAdd(g.Span, outer, inner, map, gx.Span, size);
            return new[] { gx };
        }, x);
    }

    /// <summary>
    /// torch.gather: out[p] = x[p with its <paramref name="axis"/> coordinate replaced by index[p]]. The index has the same
    /// rank as <paramref name="x"/>, shape <paramref name="indexShape"/> (row-major, no larger than x on any axis other
    /// than <paramref name="axis"/>), and the output has that shape. The backward pass scatter-adds into x's shape.
    /// </summary>
    public static Tensor Gather(this Tensor x, int axis, int[] index, int[] indexShape)
    {
        int a = CheckGatherArgs("Gather", x.Shape, axis, index, indexShape);
        var idx = (int[])index.Clone();
        var ishape = (int[])indexShape.Clone();
        var o = Tensor.Empty(Shape.Wrap((int[])ishape.Clone()));
        IndexingKernels.Gather(x.Span, x.Shape.ToArray(), a, idx, ishape, o.Span);
        return Autograd.Record(o, "Gather", (g, _) =>
        {
            var gx = Tensor.Zeros(x.Shape);
            IndexingKernels.ScatterAdd(g.Span, idx, ishape, a, gx.Span, x.Shape.ToArray());
            return new[] { gx };
        }, x);
    }

    /// <summary>
    /// torch.scatter_add: a copy of <paramref name="x"/> with src[p] added at x[p with its <paramref name="axis"/> coordinate
    /// replaced by index[p]]; repeated targets accumulate. <paramref name="src"/> must have shape
    /// <paramref name="indexShape"/>. Differentiable in both x (gradient passes through) and src (gradient is a Gather).
    /// </summary>
    public static Tensor ScatterAdd(this Tensor x, int axis, int[] index, int[] indexShape, Tensor src)
    {
        int a = CheckGatherArgs("ScatterAdd", x.Shape, axis, index, indexShape);
        if (src.Shape != new Shape(indexShape))
            throw new ArgumentException($"ScatterAdd: src has shape {src.Shape}, expected the index shape [{string.Join(", ", indexShape)}].");
        var idx = (int[])index.Clone();
        var ishape = (int[])indexShape.Clone();
        var o = x.Clone();
        IndexingKernels.ScatterAdd(src.Span, idx, ishape, a, o.Span, x.Shape.ToArray());
        return Autograd.Record(o, "ScatterAdd", (g, n) => new[]
        {
            n[0] ? g : null,
            n[1] ? GatherNoGrad(g, a, idx, ishape) : null,
        }, x, src);
    }

    private static Tensor GatherNoGrad(Tensor g, int axis, int[] idx, int[] ishape)
    {
        var o = Tensor.Empty(Shape.Wrap((int[])ishape.Clone()));
        IndexingKernels.Gather(g.Span, g.Shape.ToArray(), axis, idx, ishape, o.Span);
        return o;
    }

    private static int CheckGatherArgs(string op, Shape xs, int axis, int[] index, int[] indexShape)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(indexShape);
        if (xs.Rank == 0) throw new ArgumentException($"{op}: input must have at least one axis, got a scalar.");
        int a = Shape.NormalizeAxis(axis, xs.Rank, op);
        if (indexShape.Length != xs.Rank)
            throw new ArgumentException($"{op}: index shape [{string.Join(", ", indexShape)}] has rank {indexShape.Length}, expected rank {xs.Rank} like the input {xs}.");
        long n = 1;
        for (int d = 0; d < indexShape.Length; d++)
        {
            if (indexShape[d] < 0) throw new ArgumentException($"{op}: index shape [{string.Join(", ", indexShape)}] has a negative dimension.");
            if (d != a && indexShape[d] > xs.Dims[d])
                throw new ArgumentException($"{op}: index shape [{string.Join(", ", indexShape)}] is larger than input {xs} on axis {d} ({indexShape[d]} > {xs.Dims[d]}); only axis {a} may differ.");
            n *= indexShape[d];
        }
        if (index.Length != n)
            throw new ArgumentException($"{op}: {index.Length} indices do not fill index shape [{string.Join(", ", indexShape)}] ({n} elements).");
        int size = xs.Dims[a];
        foreach (var i in index) CheckIndex(op, a, i, size, xs);
        return a;
    }

    private static void CheckIndex(string op, int axis, int index, int size, Shape shape)
    {
        if ((uint)index >= (uint)size)
            throw new ArgumentOutOfRangeException(nameof(index), $"{op}: index {index} is out of range for axis {axis} of size {size} (input {shape}); expected 0 <= index < {size}.");
    }
}
