namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Kernels behind IndexSelect, Gather, ScatterAdd and Pad. A tensor is viewed as [outer, axis, inner] around the axis
/// being indexed; an index map says, for every position along the output axis, which input position it reads
/// (-1: none, the position is filled with a constant). Gathers are parallel over output rows; scatter-adds are parallel
/// only over work that writes disjoint parts of the destination, so no two threads ever add into the same element.
/// Indices are validated by the ops before a kernel runs; the kernels trust them.
/// </summary>
public static class IndexingKernels
{
    private const int ColumnBlock = 1024;

    /// <summary>dst[o, j, i] = map[j] &gt;= 0 ? src[o, map[j], i] : fill, for o &lt; outer, j &lt; map.Length, i &lt; inner.</summary>
    public static unsafe void AxisGather(ReadOnlySpan<float> src, int outer, int inSize, int inner, int[] map, Span<float> dst, float fill = 0f)
    {
        int outSize = map.Length;
        int rows = outer * outSize;
        if (rows == 0 || inner == 0) return;
        fixed (float* ps = src, pd = dst)
        {
            float* s0 = ps, d0 = pd;
            Parallelism.For(rows, Math.Max(1, 16384 / inner), (rs, re) =>
            {
                for (int row = rs; row < re; row++)
                {
                    int o = row / outSize, j = row % outSize, m = map[j];
                    var d = new Span<float>(d0 + (long)row * inner, inner);
                    if (m < 0) d.Fill(fill);
                    else new ReadOnlySpan<float>(s0 + ((long)o * inSize + m) * inner, inner).CopyTo(d);
                }
            });
        }
    }

    /// <summary>
    /// The adjoint of <see cref="AxisGather"/>: dst[o, map[j], i] += src[o, j, i] for every j with map[j] &gt;= 0.
    /// <paramref name="dst"/> ([outer, inSize, inner]) is accumulated into, not cleared. Repeated map entries add up.
    /// </summary>
    public static unsafe void AxisScatterAdd(ReadOnlySpan<float> src, int outer, int inner, int[] map, Span<float> dst, int inSize)
    {
        int outSize = map.Length;
        if (outer == 0 || inner == 0 || outSize == 0) return;
        int blocks = (inner + ColumnBlock - 1) / ColumnBlock;
        fixed (float* ps = src, pd = dst)
        {
            float* s0 = ps, d0 = pd;
            // One unit = one outer index and one block of columns: units write disjoint parts of dst.
            Parallelism.For(outer * blocks, Math.Max(1, 16384 / Math.Max(1, outSize * Math.Min(inner, ColumnBlock))), (us, ue) =>
            {
                for (int u = us; u < ue; u++)
                {
                    int o = u / blocks, c0 = u % blocks * ColumnBlock, len = Math.Min(ColumnBlock, inner - c0);
                    for (int j = 0; j < outSize; j++)
                    {
                        int m = map[j];
                        if (m < 0) continue;
                        var s = new ReadOnlySpan<float>(s0 + ((long)o * outSize + j) * inner + c0, len);
                        var d = new Span<float>(d0 + ((long)o * inSize + m) * inner + c0, len);
                        System.Numerics.Tensors.TensorPrimitives.Add(d, s, d);
                    }
                }
            });
        }
    }

    /// <summary>
    /// torch.gather: out[p] = src[p with its <paramref name="axis"/> coordinate replaced by index[p]], where p runs over
    /// <paramref name="indexDims"/> (same rank as <paramref name="srcDims"/>, no larger on any other axis).
    /// </summary>
    public static unsafe void Gather(ReadOnlySpan<float> src, int[] srcDims, int axis, ReadOnlySpan<int> index, int[] indexDims, Span<float> dst)
    {
        int r = indexDims.Length, inner = indexDims[r - 1];
        long n = 1;
        foreach (var d in indexDims) n *= d;
        if (n == 0) return;
        int rows = (int)(n / inner);
        var st = new Shape(srcDims).Strides();
        fixed (float* ps = src, pd = dst)
        fixed (int* pi = index)
        {
            float* s0 = ps, d0 = pd;
            int* i0 = pi;
            Parallelism.For(rows, Math.Max(1, 16384 / inner), (rs, re) =>
            {
                var idx = new int[r];
                for (int row = rs; row < re; row++)
                {
                    long rowOff = 0; // source offset of this row without the axis term
                    int rem = row;
                    for (int d = r - 2; d >= 0; d--)
                    {
                        idx[d] = rem % indexDims[d];
                        rem /= indexDims[d];
                        if (d != axis) rowOff += (long)idx[d] * st[d];
                    }
                    long p = (long)row * inner;
                    if (axis == r - 1)
                        for (int i = 0; i < inner; i++) d0[p + i] = s0[rowOff + i0[p + i]];
                    else
                        for (int i = 0; i < inner; i++) d0[p + i] = s0[rowOff + i + (long)i0[p + i] * st[axis]];
                }
            });
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Gather"/>: dst[p with axis coordinate index[p]] += src[p]. Parallel over the axes before
    /// <paramref name="axis"/> (their positions never collide); serial when there are none.
    /// </summary>
    public static unsafe void ScatterAdd(ReadOnlySpan<float> src, ReadOnlySpan<int> index, int[] indexDims, int axis, Span<float> dst, int[] dstDims)
    {
        int r = indexDims.Length;
        long n = 1;
        foreach (var d in indexDims) n *= d;
        if (n == 0) return;
        int outer = 1;
        for (int d = 0; d < axis; d++) outer *= indexDims[d];
        int block = (int)(n / outer); // elements of the index per outer position
        var st = new Shape(dstDims).Strides();
        fixed (float* ps = src, pd = dst)
        fixed (int* pi = index)
        {
            float* s0 = ps, d0 = pd;
            int* i0 = pi;
            Parallelism.For(outer, Math.Max(1, 16384 / Math.Max(1, block)), (os, oe) =>
            {
                var idx = new int[r];
                for (long p = (long)os * block; p < (long)oe * block; p++)
                {
                    long rem = p, off = 0;
                    for (int d = r - 1; d >= 0; d--)
                    {
                        int c = (int)(rem % indexDims[d]);
                        rem /= indexDims[d];
                        off += (long)(d == axis ? i0[p] : c) * st[d];
                    }
                    d0[off] += s0[p];
                }
            });
        }
    }

    /// <summary>
    /// Multi-axis gather with one index map per axis (null: identity), the forward of Pad. An output element whose
    /// map entry is -1 on any axis gets <paramref name="fill"/>. Parallel over output rows (all axes but the last);
    /// the in-range middle of each row is one block copy.
    /// </summary>
    public static unsafe void PadGather(ReadOnlySpan<float> src, int[] srcDims, int[]?[] maps, Span<float> dst, int[] dstDims, int before, float fill)
    {
        int r = dstDims.Length;
        long n = 1;
        foreach (var d in dstDims) n *= d;
        if (n == 0) return;
        int outW = dstDims[r - 1], inW = srcDims[r - 1];
        int rows = (int)(n / outW);
        var st = new Shape(srcDims).Strides();
        var last = maps[r - 1];
        // Output columns [lo, hi) read input columns [lo - before, hi - before) contiguously.
        int lo = Math.Clamp(before, 0, outW), hi = Math.Clamp(before + inW, lo, outW);
        fixed (float* ps = src, pd = dst)
        {
            float* s0 = ps, d0 = pd;
            Parallelism.For(rows, Math.Max(1, 16384 / outW), (rs, re) =>
            {
                for (int row = rs; row < re; row++)
                {
                    long off = 0;
                    bool filled = false;
                    int rem = row;
                    for (int d = r - 2; d >= 0; d--)
                    {
                        int c = rem % dstDims[d];
                        rem /= dstDims[d];
                        int m = maps[d] is { } md ? md[c] : c;
                        if (m < 0) { filled = true; break; }
                        off += (long)m * st[d];
                    }
                    var drow = new Span<float>(d0 + (long)row * outW, outW);
                    if (filled) { drow.Fill(fill); continue; }
                    if (last is null) { new ReadOnlySpan<float>(s0 + off, outW).CopyTo(drow); continue; }
                    if (hi > lo) new ReadOnlySpan<float>(s0 + off + lo - before, hi - lo).CopyTo(drow.Slice(lo));
                    for (int j = 0; j < lo; j++) drow[j] = last[j] < 0 ? fill : s0[off + last[j]];
                    for (int j = hi; j < outW; j++) drow[j] = last[j] < 0 ? fill : s0[off + last[j]];
                }
            });
        }
    }

    /// <summary>
    /// Scalar twin of Pad's forward, written from the definition: every output element computes its source coordinate on
    /// each axis (shift by the leading pad, then constant / clamp / mirror when outside).
    /// </summary>
    public static void PadScalar(ReadOnlySpan<float> src, int[] srcDims, (int Before, int After)[] pads, PadMode mode, float value, Span<float> dst)
    {
        int r = srcDims.Length;
        var outDims = new int[r];
        for (int d = 0; d < r; d++) outDims[d] = srcDims[d] + pads[d].Before + pads[d].After;
        var st = new Shape(srcDims).Strides();
        long n = 1;
        foreach (var d in outDims) n *= d;
        for (long p = 0; p < n; p++)
        {
            long rem = p, off = 0;
            bool constant = false;
            for (int d = r - 1; d >= 0; d--)
            {
                int i = (int)(rem % outDims[d]) - pads[d].Before, size = srcDims[d];
                rem /= outDims[d];
                if (i < 0 || i >= size)
                {
                    if (mode == PadMode.Constant) constant = true;
                    else if (mode == PadMode.Replicate) i = i < 0 ? 0 : size - 1;
                    else i = i < 0 ? -i : 2 * (size - 1) - i;
                }
                off += (long)i * st[d];
            }
            dst[(int)p] = constant ? value : src[(int)off];
        }
    }
}
