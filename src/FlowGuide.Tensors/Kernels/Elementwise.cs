using System.Numerics.Tensors;

namespace FlowGuide.Tensors.Kernels;

/// <summary>Binary elementwise operations with NumPy broadcasting.</summary>
public enum BinaryOp { Add, Sub, Mul, Div, Max, Min, Pow, Greater, GreaterEqual, Less, LessEqual, Equal, NotEqual }

/// <summary>
/// Broadcasting binary kernels. The fast path walks the output as runs of its innermost dimensions, where each input is
/// either contiguous or a repeated scalar, and hands each run to a SIMD span kernel (System.Numerics.Tensors).
/// <see cref="BinaryScalar"/> is the plain per-element twin the tests compare against.
/// </summary>
public static class Elementwise
{
    private const int ParallelThreshold = 1 << 15;

    /// <summary>out = a op b with broadcasting; <paramref name="output"/> must have the broadcast shape.</summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<float> a, Shape sa, ReadOnlySpan<float> b, Shape sb, Span<float> output, Shape so)
    {
        int n = so.Numel;
        if (n == 0) return;
        // Same shape: one flat run.
        if (sa == so && sb == so)
        {
            RunPar(op, a, b, output, n, 1, 1);
            return;
        }
        if (sb.Numel == 1 && sa == so) { RunPar(op, a, b, output, n, 1, 0); return; }
        if (sa.Numel == 1 && sb == so) { RunPar(op, a, b, output, n, 0, 1); return; }

        var (outer, inner, stA, stB, innerA, innerB) = Plan(sa, sb, so);
        var oDims = outer;
        int outerCount = n / inner;
        unsafe
        {
            fixed (float* pa = a, pb = b, po = output)
            {
                float* xa = pa, xb = pb, xo = po;
                int laLen = a.Length, lbLen = b.Length;
                Parallelism.For(outerCount, Math.Max(1, ParallelThreshold / Math.Max(inner, 1)), (s, e) =>
                {
                    var idx = new int[oDims.Length];
                    // Decompose s into a multi-index over the outer dims.
                    long offA = 0, offB = 0;
                    int rem = s;
                    for (int d = oDims.Length - 1; d >= 0; d--)
                    {
                        idx[d] = rem % oDims[d];
                        rem /= oDims[d];
                        offA += (long)idx[d] * stA[d];
                        offB += (long)idx[d] * stB[d];
                    }
                    for (int r = s; r < e; r++)
                    {
                        var ra = new ReadOnlySpan<float>(xa + offA, innerA == 1 ? inner : 1);
                        var rb = new ReadOnlySpan<float>(xb + offB, innerB == 1 ? inner : 1);
                        Run(op, ra, rb, new Span<float>(xo + (long)r * inner, inner), inner, innerA, innerB);
                        // Advance the outer multi-index (odometer).
                        for (int d = oDims.Length - 1; d >= 0; d--)
                        {
                            idx[d]++;
                            offA += stA[d];
                            offB += stB[d];
                            if (idx[d] < oDims[d]) break;
                            offA -= (long)stA[d] * oDims[d];
                            offB -= (long)stB[d] * oDims[d];
                            idx[d] = 0;
                        }
                    }
                    _ = laLen; _ = lbLen;
                });
            }
        }
    }

    /// <summary>
    /// Splits the broadcast into outer dims (walked with strides) and an inner run in which each input is either
    /// contiguous (inner stride 1) or constant (inner stride 0).
    /// </summary>
    private static (int[] outer, int inner, long[] stA, long[] stB, int innerA, int innerB) Plan(Shape sa, Shape sb, Shape so)
    {
        int r = so.Rank;
        var strideA = AlignedStrides(sa, r);
        var strideB = AlignedStrides(sb, r);
        var dims = so.Dims;
        // Inner mode of each input for the last dim: 1 = contiguous, 0 = broadcast.
        int modeA = dims[r - 1] == 1 ? -1 : (strideA[r - 1] == 0 ? 0 : 1);
        int modeB = dims[r - 1] == 1 ? -1 : (strideB[r - 1] == 0 ? 0 : 1);
        int inner = 1;
        int k = r;
        while (k > 0)
        {
            int d = dims[k - 1];
            int ma = d == 1 ? -1 : (strideA[k - 1] == 0 ? 0 : 1);
            int mb = d == 1 ? -1 : (strideB[k - 1] == 0 ? 0 : 1);
            if (ma != -1) { if (modeA == -1) modeA = ma; else if (ma != modeA) break; }
            if (mb != -1) { if (modeB == -1) modeB = mb; else if (mb != modeB) break; }
            inner *= d;
            k--;
        }
        if (modeA == -1) modeA = 0;
        if (modeB == -1) modeB = 0;
        var outer = dims[..k].ToArray();
        var stA = new long[k];
        var stB = new long[k];
        for (int i = 0; i < k; i++) { stA[i] = strideA[i]; stB[i] = strideB[i]; }
        return (outer, inner, stA, stB, modeA, modeB);
    }

    /// <summary>Strides of <paramref name="s"/> right-aligned to rank <paramref name="r"/>, zero where broadcast.</summary>
    internal static long[] AlignedStrides(Shape s, int r)
    {
        var st = new long[r];
        long acc = 1;
        for (int i = s.Rank - 1; i >= 0; i--)
        {
            int j = i + r - s.Rank;
            st[j] = s.Dims[i] == 1 ? 0 : acc;
            acc *= s.Dims[i];
        }
        return st;
    }

    private static void RunPar(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> o, int n, int modeA, int modeB)
    {
        if (n < ParallelThreshold * 2)
        {
            Run(op, a, b, o, n, modeA, modeB);
            return;
        }
        unsafe
        {
            fixed (float* pa = a, pb = b, po = o)
            {
                float* xa = pa, xb = pb, xo = po;
                Parallelism.For(n, ParallelThreshold, (s, e) =>
                {
                    var ra = modeA == 1 ? new ReadOnlySpan<float>(xa + s, e - s) : new ReadOnlySpan<float>(xa, 1);
                    var rb = modeB == 1 ? new ReadOnlySpan<float>(xb + s, e - s) : new ReadOnlySpan<float>(xb, 1);
                    Run(op, ra, rb, new Span<float>(xo + s, e - s), e - s, modeA, modeB);
                });
            }
        }
    }

    /// <summary>One run: each input is a span of length n (mode 1) or a single repeated value (mode 0).</summary>
    private static void Run(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> o, int n, int modeA, int modeB)
    {
        o = o[..n];
        if (modeA == 1 && modeB == 1)
        {
            a = a[..n]; b = b[..n];
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(a, b, o); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, o); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, o); return;
                case BinaryOp.Div: TensorPrimitives.Divide(a, b, o); return;
                case BinaryOp.Max: TensorPrimitives.Max(a, b, o); return;
                case BinaryOp.Min: TensorPrimitives.Min(a, b, o); return;
            }
            for (int i = 0; i < n; i++) o[i] = Apply(op, a[i], b[i]);
            return;
        }
        if (modeA == 1)
        {
            a = a[..n];
            float y = b[0];
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(a, y, o); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(a, y, o); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(a, y, o); return;
                case BinaryOp.Div: TensorPrimitives.Divide(a, y, o); return;
                case BinaryOp.Max: TensorPrimitives.Max(a, y, o); return;
                case BinaryOp.Min: TensorPrimitives.Min(a, y, o); return;
            }
            for (int i = 0; i < n; i++) o[i] = Apply(op, a[i], y);
            return;
        }
        if (modeB == 1)
        {
            b = b[..n];
            float x = a[0];
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(b, x, o); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(x, b, o); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(b, x, o); return;
                case BinaryOp.Div: TensorPrimitives.Divide(x, b, o); return;
                case BinaryOp.Max: TensorPrimitives.Max(b, x, o); return;
                case BinaryOp.Min: TensorPrimitives.Min(b, x, o); return;
            }
            for (int i = 0; i < n; i++) o[i] = Apply(op, x, b[i]);
            return;
        }
        o.Fill(Apply(op, a[0], b[0]));
    }

    /// <summary>The scalar definition of every binary op (comparisons give 1 or 0).</summary>
    public static float Apply(BinaryOp op, float x, float y) => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Sub => x - y,
        BinaryOp.Mul => x * y,
        BinaryOp.Div => x / y,
        BinaryOp.Max => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : Math.Max(x, y),
        BinaryOp.Min => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : Math.Min(x, y),
        BinaryOp.Pow => MathF.Pow(x, y),
        BinaryOp.Greater => x > y ? 1f : 0f,
        BinaryOp.GreaterEqual => x >= y ? 1f : 0f,
        BinaryOp.Less => x < y ? 1f : 0f,
        BinaryOp.LessEqual => x <= y ? 1f : 0f,
        BinaryOp.Equal => x == y ? 1f : 0f,
        BinaryOp.NotEqual => x != y ? 1f : 0f,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>Scalar twin of <see cref="Binary"/>: a multi-index loop per output element, used by parity tests.</summary>
    public static void BinaryScalar(BinaryOp op, ReadOnlySpan<float> a, Shape sa, ReadOnlySpan<float> b, Shape sb, Span<float> output, Shape so)
    {
        int r = so.Rank;
        var stA = AlignedStrides(sa, r);
        var stB = AlignedStrides(sb, r);
        var dims = so.ToArray();
        int n = so.Numel;
        for (int i = 0; i < n; i++)
        {
            int rem = i;
            long oa = 0, ob = 0;
            for (int d = r - 1; d >= 0; d--)
            {
                int ix = rem % dims[d];
                rem /= dims[d];
                oa += ix * stA[d];
                ob += ix * stB[d];
            }
            output[i] = Apply(op, a[(int)oa], b[(int)ob]);
        }
    }
}
