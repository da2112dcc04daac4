namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Strided copies behind the layout ops. Every layout op reduces to "copy a strided view of the source into a contiguous
/// destination": <see cref="StridedCopy"/> walks the destination with an odometer and copies the innermost dimension
/// as a block when its source stride is 1.
/// </summary>
public static class Layout
{
    /// <summary>dst[i0..] = src[offset + sum(i_k * srcStrides[k])] for the contiguous destination shape <paramref name="dims"/>.</summary>
    public static void StridedCopy(ReadOnlySpan<float> src, long offset, long[] srcStrides, Span<float> dst, int[] dims)
    {
        int r = dims.Length;
        long n = 1;
        foreach (var d in dims) n *= d;
        if (n == 0) return;
        if (r == 0) { dst[0] = src[(int)offset]; return; }
        int inner = dims[r - 1];
        long innerStride = srcStrides[r - 1];
        int rows = (int)(n / inner);
        unsafe
        {
            fixed (float* ps = src, pd = dst)
            {
                float* s0 = ps, d0 = pd;
                int srcLen = src.Length;
                Parallelism.For(rows, Math.Max(1, 32768 / Math.Max(inner, 1)), (rs, re) =>
                {
                    var idx = new int[r - 1];
                    long off = offset;
                    int rem = rs;
                    for (int d = r - 2; d >= 0; d--)
                    {
                        idx[d] = rem % dims[d];
                        rem /= dims[d];
                        off += idx[d] * srcStrides[d];
                    }
                    for (int row = rs; row < re; row++)
                    {
                        float* drow = d0 + (long)row * inner;
                        if (innerStride == 1) new ReadOnlySpan<float>(s0 + off, inner).CopyTo(new Span<float>(drow, inner));
                        else if (innerStride == 0) new Span<float>(drow, inner).Fill(s0[off]);
                        else
                        {
                            long so = off;
                            for (int i = 0; i < inner; i++, so += innerStride) drow[i] = s0[so];
                        }
                        for (int d = r - 2; d >= 0; d--)
                        {
                            idx[d]++;
                            off += srcStrides[d];
                            if (idx[d] < dims[d]) break;
                            off -= srcStrides[d] * dims[d];
                            idx[d] = 0;
                        }
                    }
                    _ = srcLen;
                });
            }
        }
    }

    /// <summary>Scalar twin of <see cref="StridedCopy"/>: an index computation per element.</summary>
    public static void StridedCopyScalar(ReadOnlySpan<float> src, long offset, long[] srcStrides, Span<float> dst, int[] dims)
    {
        long n = 1;
        foreach (var d in dims) n *= d;
        for (long i = 0; i < n; i++)
        {
            long rem = i, off = offset;
            for (int d = dims.Length - 1; d >= 0; d--)
            {
                off += rem % dims[d] * srcStrides[d];
                rem /= dims[d];
            }
            dst[(int)i] = src[(int)off];
        }
    }

    /// <summary>Writes a contiguous block into a strided region of <paramref name="dst"/> (the adjoint of <see cref="StridedCopy"/> for non-overlapping views).</summary>
    public static void StridedScatter(ReadOnlySpan<float> src, Span<float> dst, long offset, long[] dstStrides, int[] dims)
    {
        long n = 1;
        foreach (var d in dims) n *= d;
        int r = dims.Length;
        if (n == 0) return;
        if (r == 0) { dst[(int)offset] = src[0]; return; }
        var idx = new int[r];
        long off = offset;
        int inner = dims[r - 1];
        long innerStride = dstStrides[r - 1];
        for (long row = 0; row < n / inner; row++)
        {
            if (innerStride == 1) src.Slice((int)(row * inner), inner).CopyTo(dst.Slice((int)off, inner));
            else for (int i = 0; i < inner; i++) dst[(int)(off + i * innerStride)] = src[(int)(row * inner + i)];
            for (int d = r - 2; d >= 0; d--)
            {
                idx[d]++;
                off += dstStrides[d];
                if (idx[d] < dims[d]) break;
                off -= dstStrides[d] * dims[d];
                idx[d] = 0;
            }
        }
    }
}
