namespace FlowGuide.Tensors;

/// <summary>
/// An immutable tensor shape. Storage is always contiguous row-major, so the strides follow from the shape and are
/// computed on demand rather than stored.
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    private readonly int[]? _dims;

    public Shape(params int[] dims)
    {
        foreach (var d in dims)
            if (d < 0) throw new ArgumentException($"Shape: dimensions must be non-negative, got [{string.Join(", ", dims)}].");
        _dims = (int[])dims.Clone();
    }

    private Shape(int[] dims, bool _) => _dims = dims;

    internal static Shape Wrap(int[] dims) => new(dims, true);

    public static Shape Scalar => new(Array.Empty<int>(), true);

    public int Rank => _dims?.Length ?? 0;

    public int this[int axis] => Dims[NormalizeAxis(axis, Rank, "Shape")];

    public ReadOnlySpan<int> Dims => _dims ?? Array.Empty<int>();

    /// <summary>Number of elements; 1 for a rank-0 (scalar) shape.</summary>
    public int Numel
    {
        get
        {
            long n = 1;
            foreach (var d in Dims) n *= d;
            if (n > int.MaxValue) throw new InvalidOperationException($"Shape {this} has {n} elements, more than a single buffer can hold.");
            return (int)n;
        }
    }

    public int[] ToArray() => Dims.ToArray();

    /// <summary>Row-major strides in elements.</summary>
    public int[] Strides()
    {
        var s = new int[Rank];
        int acc = 1;
        for (int i = Rank - 1; i >= 0; i--) { s[i] = acc; acc *= Dims[i]; }
        return s;
    }

    /// <summary>Product of the dimensions in [start, end).</summary>
    public int Prod(int start, int end)
    {
        int p = 1;
        for (int i = start; i < end; i++) p *= Dims[i];
        return p;
    }

    public static int NormalizeAxis(int axis, int rank, string op)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1) || (rank == 0 && a != 0))
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for a rank-{rank} tensor.");
        return a;
    }

    /// <summary>NumPy broadcasting of two shapes; throws naming <paramref name="op"/> when they are incompatible.</summary>
    public static Shape Broadcast(Shape a, Shape b, string op)
    {
        int r = Math.Max(a.Rank, b.Rank);
        var o = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Rank) >= 0 ? a.Dims[i - (r - a.Rank)] : 1;
            int db = i - (r - b.Rank) >= 0 ? b.Dims[i - (r - b.Rank)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {a} and {b} cannot be broadcast together (dimension {i}: {da} vs {db}).");
            o[i] = da == 1 ? db : da;
        }
        return Wrap(o);
    }

    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in Dims) h.Add(d);
        return h.ToHashCode();
    }
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);
    public override string ToString() => "[" + string.Join(", ", Dims.ToArray()) + "]";

    public static implicit operator Shape(int[] dims) => new(dims);
}
