using System.Numerics.Tensors;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Grouped N-d convolution (1..3 spatial axes, see <see cref="ConvGeometry"/>) as im2col + GEMM, with its two backward
/// products: the input gradient (GEMM into columns, then col2im) and the weight gradient (GEMM of the output gradient
/// with re-computed columns). Columns are rebuilt in backward rather than saved, and built for a bounded chunk of
/// output rows at a time, so the scratch buffer never exceeds <c>maxColumnFloats</c> (one output row at minimum).
/// A pointwise conv (1x1x1 kernel, stride 1, no padding) skips im2col: the input already is its column matrix.
/// Layouts: x [N, C, D, H, W], w [O, C/groups, KD, KH, KW], y [N, O, OD, OH, OW], all contiguous.
/// </summary>
public static class Conv
{
    /// <summary>Default bound on the column scratch buffer: 4M floats (16 MB, half this machine's L3; larger budgets measured no faster).</summary>
    public const int DefaultMaxColumnFloats = 4 << 20;

    private static int RowsPerChunk(ConvGeometry g, int channels, int maxColumnFloats)
    {
        long perRow = (long)channels * g.K * g.OW;
        return (int)Math.Clamp(maxColumnFloats / Math.Max(1, perRow), 1, Math.Max(1, g.OutRows));
    }

    /// <summary>y = conv(x, w) + b. <paramref name="b"/> may be empty (no bias).</summary>
    public static void Forward(ConvGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y,
        int maxColumnFloats = DefaultMaxColumnFloats)
    {
        int cg = g.Cg, og = g.Og, kk = cg * g.K, p = g.OutPlane, plane = g.InPlane;
        long xImg = (long)g.C * plane, yImg = (long)g.O * p;
        if (g.IsPointwise)
        {
            for (int n = 0; n < g.N; n++)
                for (int gr = 0; gr < g.Groups; gr++)
                    Gemm.Sgemm(false, false, og, p, cg, 1f, w[(gr * og * cg)..], cg,
                        x[(int)(n * xImg + (long)gr * cg * plane)..], p, 0f, y[(int)(n * yImg + (long)gr * og * p)..], p);
        }
        else
        {
            int rpc = RowsPerChunk(g, g.C, maxColumnFloats);
            var cols = BufferPool.Rent(g.C * g.K * rpc * g.OW, clear: false);
            try
            {
                for (int n = 0; n < g.N; n++)
                {
                    var xn = x.Slice((int)(n * xImg), (int)xImg);
                    var yn = y.Slice((int)(n * yImg), (int)yImg);
                    for (int r0 = 0; r0 < g.OutRows; r0 += rpc)
                    {
                        int r1 = Math.Min(g.OutRows, r0 + rpc), pc = (r1 - r0) * g.OW;
                        Im2Col.Unfold(g, xn, 0, g.C, r0, r1, cols);
                        if (pc == p && g.Groups > 1)
                            Gemm.SgemmBatched(g.Groups, false, false, og, p, kk, 1f, w, (long)og * kk, cols, (long)kk * p, 0f, yn, (long)og * p);
                        else
                            for (int gr = 0; gr < g.Groups; gr++)
                                Gemm.Sgemm(false, false, og, pc, kk, 1f, w[(gr * og * kk)..], kk, cols.AsSpan(gr * kk * pc), pc,
                                    0f, yn[(gr * og * p + r0 * g.OW)..], p);
                    }
                }
            }
            finally { BufferPool.Return(cols, reusable: true); }
        }
        if (!b.IsEmpty)
            for (int n = 0; n < g.N; n++)
                for (int o = 0; o < g.O; o++)
                {
                    var row = y.Slice((int)(n * yImg + (long)o * p), p);
                    TensorPrimitives.Add(row, b[o], row);
                }
    }

    /// <summary>dx = conv_transpose(gy, w): overwrites <paramref name="dx"/> ([N, C, D, H, W]).</summary>
    public static void BackwardInput(ConvGeometry g, ReadOnlySpan<float> gy, ReadOnlySpan<float> w, Span<float> dx,
        int maxColumnFloats = DefaultMaxColumnFloats)
    {
        int cg = g.Cg, og = g.Og, kk = cg * g.K, p = g.OutPlane, plane = g.InPlane;
        long xImg = (long)g.C * plane, yImg = (long)g.O * p;
        if (g.IsPointwise)
        {
            // dx_g [Cg, P] = w_g^T [Cg, Og] @ gy_g [Og, P]
            for (int n = 0; n < g.N; n++)
                for (int gr = 0; gr < g.Groups; gr++)
                    Gemm.Sgemm(true, false, cg, p, og, 1f, w[(gr * og * cg)..], cg,
                        gy[(int)(n * yImg + (long)gr * og * p)..], p, 0f, dx[(int)(n * xImg + (long)gr * cg * plane)..], p);
            return;
        }
        dx.Clear();
        int rpc = RowsPerChunk(g, g.C, maxColumnFloats);
        var cols = BufferPool.Rent(g.C * g.K * rpc * g.OW, clear: false);
        try
        {
            for (int n = 0; n < g.N; n++)
            {
                var gyn = gy.Slice((int)(n * yImg), (int)yImg);
                var dxn = dx.Slice((int)(n * xImg), (int)xImg);
                for (int r0 = 0; r0 < g.OutRows; r0 += rpc)
                {
                    int r1 = Math.Min(g.OutRows, r0 + rpc), pc = (r1 - r0) * g.OW;
                    // cols_g [Cg*K, pc] = w_g^T [Cg*K, Og] @ gy_g [Og, pc]
                    if (pc == p && g.Groups > 1)
                        Gemm.SgemmBatched(g.Groups, true, false, kk, p, og, 1f, w, (long)og * kk, gyn, (long)og * p, 0f, cols, (long)kk * p);
                    else
                        for (int gr = 0; gr < g.Groups; gr++)
                            Gemm.Sgemm(true, false, kk, pc, og, 1f, w[(gr * og * kk)..], kk, gyn[(gr * og * p + r0 * g.OW)..], p,
                                0f, cols.AsSpan(gr * kk * pc), pc);
                    Im2Col.Fold(g, cols, 0, g.C, r0, r1, dxn);
                }
            }
        }
        finally { BufferPool.Return(cols, reusable: true); }
    }

    /// <summary>dw = sum over the batch of gy_g @ cols_g^T: overwrites <paramref name="dw"/> ([O, C/groups, KD, KH, KW]).</summary>
    public static void BackwardWeight(ConvGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> gy, Span<float> dw,
        int maxColumnFloats = DefaultMaxColumnFloats)
    {
        int cg = g.Cg, og = g.Og, kk = cg * g.K, p = g.OutPlane, plane = g.InPlane;
        long xImg = (long)g.C * plane, yImg = (long)g.O * p;
        dw.Clear();
        if (g.IsPointwise)
        {
            // dw_g [Og, Cg] += gy_g [Og, P] @ x_g^T [P, Cg]
            for (int n = 0; n < g.N; n++)
                for (int gr = 0; gr < g.Groups; gr++)
                    Gemm.Sgemm(false, true, og, cg, p, 1f, gy[(int)(n * yImg + (long)gr * og * p)..], p,
                        x[(int)(n * xImg + (long)gr * cg * plane)..], p, 1f, dw[(gr * og * cg)..], cg);
            return;
        }
        int rpc = RowsPerChunk(g, g.C, maxColumnFloats);
        var cols = BufferPool.Rent(g.C * g.K * rpc * g.OW, clear: false);
        try
        {
            for (int n = 0; n < g.N; n++)
            {
                var xn = x.Slice((int)(n * xImg), (int)xImg);
                var gyn = gy.Slice((int)(n * yImg), (int)yImg);
                for (int r0 = 0; r0 < g.OutRows; r0 += rpc)
                {
                    int r1 = Math.Min(g.OutRows, r0 + rpc), pc = (r1 - r0) * g.OW;
                    Im2Col.Unfold(g, xn, 0, g.C, r0, r1, cols);
                    for (int gr = 0; gr < g.Groups; gr++)
                        Gemm.Sgemm(false, true, og, kk, pc, 1f, gyn[(gr * og * p + r0 * g.OW)..], p, cols.AsSpan(gr * kk * pc), pc,
                            1f, dw[(gr * og * kk)..], kk);
                }
            }
        }
        finally { BufferPool.Return(cols, reusable: true); }
    }

    /// <summary>db[o] = sum of gy over the batch and all output positions; overwrites <paramref name="db"/>.</summary>
    public static void BackwardBias(ConvGeometry g, ReadOnlySpan<float> gy, Span<float> db)
    {
        int p = g.OutPlane;
        for (int o = 0; o < g.O; o++)
        {
            double s = 0;
            for (int n = 0; n < g.N; n++) s += TensorPrimitives.Sum(gy.Slice((n * g.O + o) * p, p));
            db[o] = (float)s;
        }
    }

    // ------------------------------------------------------------------ scalar twins

    /// <summary>Direct convolution with explicit loops and double accumulation; the obviously-correct twin of <see cref="Forward"/>.</summary>
    public static void ForwardScalar(ConvGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y)
    {
        int cg = g.Cg, og = g.Og;
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.O; o++)
            {
                int gr = o / og;
                for (int od = 0; od < g.OD; od++)
                    for (int oh = 0; oh < g.OH; oh++)
                        for (int ow = 0; ow < g.OW; ow++)
                        {
                            double s = b.IsEmpty ? 0 : b[o];
                            for (int ci = 0; ci < cg; ci++)
                                for (int kd = 0; kd < g.KD; kd++)
                                    for (int kh = 0; kh < g.KH; kh++)
                                        for (int kw = 0; kw < g.KW; kw++)
                                        {
                                            if (!InputIndex(g, n, gr * cg + ci, od, oh, ow, kd, kh, kw, out int xi)) continue;
                                            s += (double)x[xi] * w[WeightIndex(g, o, ci, kd, kh, kw)];
                                        }
                            y[(((n * g.O + o) * g.OD + od) * g.OH + oh) * g.OW + ow] = (float)s;
                        }
            }
    }

    /// <summary>
    /// Direct backward: dx, dw and db (each optional, pass an empty span to skip) from explicit loops; overwrites them.
    /// The twin of <see cref="BackwardInput"/>, <see cref="BackwardWeight"/> and <see cref="BackwardBias"/>.
    /// </summary>
    public static void BackwardScalar(ConvGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> gy,
        Span<float> dx, Span<float> dw, Span<float> db)
    {
        dx.Clear(); dw.Clear(); db.Clear();
        int cg = g.Cg, og = g.Og;
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.O; o++)
            {
                int gr = o / og;
                for (int od = 0; od < g.OD; od++)
                    for (int oh = 0; oh < g.OH; oh++)
                        for (int ow = 0; ow < g.OW; ow++)
                        {
                            float gv = gy[(((n * g.O + o) * g.OD + od) * g.OH + oh) * g.OW + ow];
                            if (!db.IsEmpty) db[o] += gv;
                            for (int ci = 0; ci < cg; ci++)
                                for (int kd = 0; kd < g.KD; kd++)
                                    for (int kh = 0; kh < g.KH; kh++)
                                        for (int kw = 0; kw < g.KW; kw++)
                                        {
                                            if (!InputIndex(g, n, gr * cg + ci, od, oh, ow, kd, kh, kw, out int xi)) continue;
                                            int wi = WeightIndex(g, o, ci, kd, kh, kw);
                                            if (!dx.IsEmpty) dx[xi] += gv * w[wi];
                                            if (!dw.IsEmpty) dw[wi] += gv * x[xi];
                                        }
                        }
            }
    }

    private static int WeightIndex(ConvGeometry g, int o, int ci, int kd, int kh, int kw) =>
        (((o * g.Cg + ci) * g.KD + kd) * g.KH + kh) * g.KW + kw;

    private static bool InputIndex(ConvGeometry g, int n, int c, int od, int oh, int ow, int kd, int kh, int kw, out int index)
    {
        int id = od * g.SD - g.PD0 + kd * g.DD, ih = oh * g.SH - g.PH0 + kh * g.DH, iw = ow * g.SW - g.PW0 + kw * g.DW;
        index = 0;
        if (id < 0 || id >= g.D || ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return false;
        index = (((n * g.C + c) * g.D + id) * g.H + ih) * g.W + iw;
        return true;
    }
}
