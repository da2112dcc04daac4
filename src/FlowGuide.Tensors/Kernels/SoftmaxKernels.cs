using System.Numerics.Tensors;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Softmax and log-softmax over the middle axis of a tensor seen as [outer, n, inner], forward and backward.
/// With inner == 1 each of the outer rows is one contiguous SIMD pass; otherwise the n rows of each slab are combined
/// element-wise across inner-length runs (vectorised along inner), so no axis ever has to be moved to the end.
/// Work is split over threads by rows (inner == 1) or by (slab, column block). The *Scalar methods are the plain
/// per-element twins the parity tests compare against.
/// </summary>
public static unsafe class SoftmaxKernels
{
    private const int ParallelWork = 1 << 14;
    private const int ColumnBlock = 512;

    /// <summary>y = softmax(x) (or log-softmax when <paramref name="log"/>) over the middle axis of [outer, n, inner].</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, int outer, int n, int inner, bool log)
    {
        Check(x.Length, y.Length, outer, n, inner, "SoftmaxKernels.Forward");
        if (outer * n * inner == 0) return;
        fixed (float* px = x, py = y)
        {
            float* xp = px, yp = py;
            if (inner == 1)
            {
                Parallelism.For(outer, Math.Max(1, ParallelWork / n), (s, e) =>
                {
                    for (int r = s; r < e; r++)
                        ForwardRow(new ReadOnlySpan<float>(xp + (long)r * n, n), new Span<float>(yp + (long)r * n, n), log);
                });
                return;
            }
            int blocks = (inner + ColumnBlock - 1) / ColumnBlock;
            Parallelism.For(outer * blocks, Math.Max(1, ParallelWork / (n * Math.Min(inner, ColumnBlock))), (s, e) =>
            {
                var max = new float[Math.Min(inner, ColumnBlock)];
                var sum = new float[max.Length];
                for (int item = s; item < e; item++)
                {
                    int o = item / blocks, c0 = item % blocks * ColumnBlock, w = Math.Min(ColumnBlock, inner - c0);
                    float* xs = xp + (long)o * n * inner + c0, ys = yp + (long)o * n * inner + c0;
                    ForwardStrided(xs, ys, n, inner, max.AsSpan(0, w), sum.AsSpan(0, w), log);
                }
            });
        }
    }

    private static void ForwardRow(ReadOnlySpan<float> x, Span<float> y, bool log)
    {
        float max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max)) max = 0f; // an all -inf row gives NaN like PyTorch, not a spurious 0/0 elsewhere
        TensorPrimitives.Subtract(x, max, y);
        if (log)
        {
            // log softmax = (x - max) - log(sum(exp(x - max))); exp goes to a scratch-free second pass over y.
            float s = SumExp(y);
            TensorPrimitives.Subtract(y, MathF.Log(s), y);
        }
        else
        {
            TensorPrimitives.Exp(y, y);
            TensorPrimitives.Multiply(y, 1f / TensorPrimitives.Sum(y), y);
        }
    }

    /// <summary>sum(exp(v)) without a scratch buffer, in chunks on the stack.</summary>
    private static float SumExp(ReadOnlySpan<float> v)
    {
        Span<float> tmp = stackalloc float[256];
        float s = 0;
        for (int i = 0; i < v.Length; i += tmp.Length)
        {
            int w = Math.Min(tmp.Length, v.Length - i);
            TensorPrimitives.Exp(v.Slice(i, w), tmp[..w]);
            s += TensorPrimitives.Sum(tmp[..w]);
        }
        return s;
    }

    private static void ForwardStrided(float* x, float* y, int n, int stride, Span<float> max, Span<float> sum, bool log)
    {
        int w = max.Length;
        new ReadOnlySpan<float>(x, w).CopyTo(max);
        for (int j = 1; j < n; j++) TensorPrimitives.Max(max, new ReadOnlySpan<float>(x + (long)j * stride, w), max);
        for (int c = 0; c < w; c++) if (float.IsNegativeInfinity(max[c])) max[c] = 0f;
        sum.Clear();
        Span<float> tmp = log ? stackalloc float[ColumnBlock] : default;
        for (int j = 0; j < n; j++)
        {
            var yr = new Span<float>(y + (long)j * stride, w);
            TensorPrimitives.Subtract(new ReadOnlySpan<float>(x + (long)j * stride, w), max, yr);
            if (log)
            {
                TensorPrimitives.Exp(yr, tmp[..w]);
                TensorPrimitives.Add(sum, tmp[..w], sum);
            }
            else
            {
                TensorPrimitives.Exp(yr, yr);
                TensorPrimitives.Add(sum, yr, sum);
            }
        }
        if (log) TensorPrimitives.Log(sum, sum);
        else TensorPrimitives.Reciprocal(sum, sum);
        for (int j = 0; j < n; j++)
        {
            var yr = new Span<float>(y + (long)j * stride, w);
            if (log) TensorPrimitives.Subtract(yr, sum, yr);
            else TensorPrimitives.Multiply(yr, sum, yr);
        }
    }

    /// <summary>
    /// dx from the forward output <paramref name="y"/> and the output gradient <paramref name="g"/>:
    /// softmax dx = y * (g - sum(g * y)); log-softmax dx = g - exp(y) * sum(g).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> dx, int outer, int n, int inner, bool log)
    {
        Check(y.Length, dx.Length, outer, n, inner, "SoftmaxKernels.Backward");
        if (g.Length != y.Length) throw new ArgumentException($"SoftmaxKernels.Backward: gradient has {g.Length} elements, expected {y.Length}.");
        if (outer * n * inner == 0) return;
        fixed (float* py = y, pg = g, pd = dx)
        {
            float* yp = py, gp = pg, dp = pd;
            if (inner == 1)
            {
                Parallelism.For(outer, Math.Max(1, ParallelWork / n), (s, e) =>
                {
                    for (int r = s; r < e; r++)
                    {
                        long off = (long)r * n;
                        var yr = new ReadOnlySpan<float>(yp + off, n);
                        var gr = new ReadOnlySpan<float>(gp + off, n);
                        var dr = new Span<float>(dp + off, n);
                        if (log)
                        {
                            float s0 = TensorPrimitives.Sum(gr);
                            TensorPrimitives.Exp(yr, dr);
                            TensorPrimitives.MultiplyAdd(dr, -s0, gr, dr);
                        }
                        else
                        {
                            float s0 = TensorPrimitives.Dot(gr, yr);
                            TensorPrimitives.Subtract(gr, s0, dr);
                            TensorPrimitives.Multiply(dr, yr, dr);
                        }
                    }
                });
                return;
            }
            int blocks = (inner + ColumnBlock - 1) / ColumnBlock;
            Parallelism.For(outer * blocks, Math.Max(1, ParallelWork / (n * Math.Min(inner, ColumnBlock))), (s, e) =>
            {
                var acc = new float[Math.Min(inner, ColumnBlock)];
                for (int item = s; item < e; item++)
                {
                    int o = item / blocks, c0 = item % blocks * ColumnBlock, w = Math.Min(ColumnBlock, inner - c0);
                    long baseOff = (long)o * n * inner + c0;
                    var a = acc.AsSpan(0, w);
                    a.Clear();
                    for (int j = 0; j < n; j++)
                    {
                        long off = baseOff + (long)j * inner;
                        var gr = new ReadOnlySpan<float>(gp + off, w);
                        if (log) TensorPrimitives.Add(a, gr, a);
                        else TensorPrimitives.MultiplyAdd(gr, new ReadOnlySpan<float>(yp + off, w), a, a);
                    }
                    for (int j = 0; j < n; j++)
                    {
                        long off = baseOff + (long)j * inner;
                        var yr = new ReadOnlySpan<float>(yp + off, w);
                        var gr = new ReadOnlySpan<float>(gp + off, w);
                        var dr = new Span<float>(dp + off, w);
                        if (log)
                        {
                            TensorPrimitives.Exp(yr, dr);
                            TensorPrimitives.Multiply(dr, a, dr);
                            TensorPrimitives.Subtract(gr, dr, dr);
                        }
                        else
                        {
                            TensorPrimitives.Subtract(gr, a, dr);
                            TensorPrimitives.Multiply(dr, yr, dr);
                        }
                    }
                }
            });
        }
    }

    /// <summary>Plain per-element twin of <see cref="Forward"/>.</summary>
    public static void ForwardScalar(ReadOnlySpan<float> x, Span<float> y, int outer, int n, int inner, bool log)
    {
        Check(x.Length, y.Length, outer, n, inner, "SoftmaxKernels.ForwardScalar");
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < inner; c++)
            {
                long b = (long)o * n * inner + c;
                float max = float.NegativeInfinity;
                for (int j = 0; j < n; j++) max = Math.Max(max, x[(int)(b + (long)j * inner)]);
                if (float.IsNegativeInfinity(max)) max = 0f;
                double s = 0;
                for (int j = 0; j < n; j++) s += Math.Exp(x[(int)(b + (long)j * inner)] - max);
                for (int j = 0; j < n; j++)
                {
                    int i = (int)(b + (long)j * inner);
                    y[i] = log ? (float)(x[i] - max - Math.Log(s)) : (float)(Math.Exp(x[i] - max) / s);
                }
            }
    }

    /// <summary>Plain per-element twin of <see cref="Backward"/>.</summary>
    public static void BackwardScalar(ReadOnlySpan<float> y, ReadOnlySpan<float> g, Span<float> dx, int outer, int n, int inner, bool log)
    {
        Check(y.Length, dx.Length, outer, n, inner, "SoftmaxKernels.BackwardScalar");
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < inner; c++)
            {
                long b = (long)o * n * inner + c;
                double s = 0;
                for (int j = 0; j < n; j++)
                {
                    int i = (int)(b + (long)j * inner);
                    s += log ? g[i] : (double)g[i] * y[i];
                }
                for (int j = 0; j < n; j++)
                {
                    int i = (int)(b + (long)j * inner);
                    dx[i] = log ? (float)(g[i] - Math.Exp(y[i]) * s) : (float)(y[i] * (g[i] - s));
                }
            }
    }

    private static void Check(int xLen, int yLen, int outer, int n, int inner, string op)
    {
        long total = (long)outer * n * inner;
        if (outer < 0 || n < 0 || inner < 0 || xLen < total || yLen < total)
            throw new ArgumentException($"{op}: [outer {outer}, n {n}, inner {inner}] needs {total} elements; got input {xLen}, output {yLen}.");
    }
}
