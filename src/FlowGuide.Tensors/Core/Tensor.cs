using System.Globalization;
using System.Text;

namespace FlowGuide.Tensors;

/// <summary>
/// A dense float32 tensor with contiguous row-major storage and an optional autograd history.
/// </summary>
/// <remarks>
/// Storage is always contiguous: layout ops (permute, slice, expand, flip) materialise their result. That keeps every
/// kernel a straight SIMD loop over rows, lets GEMM take transposes as flags instead of copies, and makes the memory a
/// tensor holds exactly its element count. Reshape of a contiguous tensor is free (a view sharing storage).
/// Ops record a graph node only when gradients are enabled and some input requires a gradient.
/// </remarks>
public sealed partial class Tensor : IDisposable
{
    internal readonly Storage Storage;

    internal Tensor(Storage storage, Shape shape)
    {
        Storage = storage;
        Shape = shape;
        Numel = shape.Numel;
    }

    public Shape Shape { get; }

    public int Rank => Shape.Rank;

    public int Numel { get; }

    /// <summary>Size of <paramref name="axis"/> (negative counts from the end).</summary>
    public int Size(int axis) => Shape[axis];

    /// <summary>The elements, row-major. Writing through this span bypasses autograd.</summary>
    public Span<float> Span => Storage.Array.AsSpan(0, Numel);

    internal float[] Array => Storage.Array;

    /// <summary>Whether gradients flow to this tensor. Set it on leaves (parameters, latents) before building a graph.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!value && GradFn is not null)
                throw new InvalidOperationException("RequiresGrad: cannot turn gradients off on a non-leaf tensor; call Detach() instead.");
            _requiresGrad = value;
        }
    }
    private bool _requiresGrad;

    /// <summary>Gradient accumulated by <see cref="Backward"/> on a leaf; null until the first backward pass.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The op that produced this tensor, when it was recorded on the tape.</summary>
    public Node? GradFn { get; internal set; }

    public bool IsLeaf => GradFn is null;

    /// <summary>Optional name used in error messages and debugging.</summary>
    public string? Name { get; set; }

    // ---------------------------------------------------------------- creation

    /// <summary>A tensor with uninitialised contents from the pool, registered with the current <see cref="TensorScope"/>.</summary>
    public static Tensor Empty(Shape shape) => Alloc(shape, clear: false);

    internal static Tensor Alloc(Shape shape, bool clear)
    {
        var storage = new Storage(BufferPool.Rent(shape.Numel, clear), pooled: true);
        TensorScope.Current?.Register(storage);
        return new Tensor(storage, shape);
    }

    public static Tensor Empty(params int[] shape) => Empty(new Shape(shape));

    public static Tensor Zeros(params int[] shape) => Alloc(new Shape(shape), clear: true);

    public static Tensor Zeros(Shape shape) => Alloc(shape, clear: true);

    public static Tensor Ones(params int[] shape) => Full(1f, shape);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Empty(new Shape(shape));
        t.Span.Fill(value);
        return t;
    }

    public static Tensor ZerosLike(Tensor t) => Zeros(t.Shape);

    public static Tensor OnesLike(Tensor t) => Full(1f, t.Shape.ToArray());

    public static Tensor Scalar(float value) => FromArray(new[] { value }, System.Array.Empty<int>());

    /// <summary>Copies <paramref name="data"/> into a new tensor of the given shape.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> data, params int[] shape)
    {
        var s = new Shape(shape);
        if (data.Length != s.Numel)
            throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {s} ({s.Numel} elements).");
        var t = Empty(s);
        data.CopyTo(t.Span);
        return t;
    }

    public static Tensor FromArray(float[] data, params int[] shape) => FromArray((ReadOnlySpan<float>)data, shape);

    public static Tensor FromArray(double[] data, params int[] shape)
    {
        var s = new Shape(shape);
        if (data.Length != s.Numel)
            throw new ArgumentException($"FromArray: {data.Length} values do not fill shape {s} ({s.Numel} elements).");
        var t = Empty(s);
        var d = t.Span;
        for (int i = 0; i < data.Length; i++) d[i] = (float)data[i];
        return t;
    }

    /// <summary>Values start, start+step, ... below end (like numpy.arange).</summary>
    public static Tensor Arange(float start, float end, float step = 1f)
    {
        if (step == 0 || float.IsNaN(step)) throw new ArgumentException("Arange: step must be non-zero.");
        int n = Math.Max(0, (int)Math.Ceiling((end - start) / (double)step));
        var t = Empty(n);
        var d = t.Span;
        for (int i = 0; i < n; i++) d[i] = (float)(start + i * (double)step);
        return t;
    }

    public static Tensor Arange(int end) => Arange(0, end);

    /// <summary><paramref name="count"/> evenly spaced values from start to end inclusive, computed in double.</summary>
    public static Tensor Linspace(double start, double end, int count)
    {
        if (count < 0) throw new ArgumentException($"Linspace: count must be non-negative, got {count}.");
        var t = Empty(count);
        var d = t.Span;
        if (count == 1) d[0] = (float)start;
        double step = count > 1 ? (end - start) / (count - 1) : 0;
        for (int i = 0; i < count; i++) d[i] = i == count - 1 && count > 1 ? (float)end : (float)(start + i * step);
        return t;
    }

    // ---------------------------------------------------------------- access

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item: tensor of shape {Shape} has {Numel} elements, expected exactly 1.");
        return Span[0];
    }

    public float[] ToArray() => Span.ToArray();

    /// <summary>Element at a full index (slow; for tests and debugging).</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[params int[] index]
    {
        get => Span[FlatIndex(index)];
        set => Span[FlatIndex(index)] = value;
    }

    private int FlatIndex(int[] index)
    {
        if (index.Length != Rank) throw new ArgumentException($"Indexer: {index.Length} indices for a rank-{Rank} tensor of shape {Shape}.");
        int flat = 0;
        for (int i = 0; i < Rank; i++)
        {
            int ix = index[i] < 0 ? index[i] + Shape.Dims[i] : index[i];
            if (ix < 0 || ix >= Shape.Dims[i]) throw new IndexOutOfRangeException($"Indexer: index {index[i]} out of range for axis {i} of shape {Shape}.");
            flat = flat * Shape.Dims[i] + ix;
        }
        return flat;
    }

    /// <summary>A copy that shares nothing and has no history.</summary>
    public Tensor Clone()
    {
        var t = Empty(Shape);
        Span.CopyTo(t.Span);
        return t;
    }

    /// <summary>A view of the same storage with no autograd history.</summary>
    public Tensor Detach() => new(Storage, Shape);

    /// <summary>A detached copy whose <see cref="RequiresGrad"/> is on: a fresh leaf to differentiate with respect to.</summary>
    public Tensor DetachedLeaf()
    {
        var t = Clone();
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>Returns the buffer to the pool now. Any later access to this tensor or its views throws.</summary>
    public void Dispose()
    {
        GradFn = null;
        Storage.Release();
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor").Append(Shape.ToString());
        if (Storage.IsReleased) return sb.Append(" (released)").ToString();
        sb.Append(' ').Append('[');
        int n = Math.Min(Numel, 8);
        for (int i = 0; i < n; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(Span[i].ToString("G5", CultureInfo.InvariantCulture));
        }
        if (Numel > n) sb.Append(", ...");
        sb.Append(']');
        if (GradFn is not null) sb.Append(" grad_fn=").Append(GradFn.Op);
        else if (RequiresGrad) sb.Append(" requires_grad");
        return sb.ToString();
    }
}
