namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// The shape arithmetic of a convolution-like window op, normalised to three spatial axes (D, H, W): a 1-D op has
/// D = H = 1, a 2-D op has D = 1, and the missing axes get kernel 1, stride 1, dilation 1 and no padding. One set of
/// kernels then serves Conv1d/2d/3d, Unfold and the pools.
/// </summary>
public sealed class ConvGeometry
{
    public int N, C, D, H, W;
    public int O, Groups;
    public int KD, KH, KW;
    public int SD, SH, SW;
    public int DD, DH, DW;
    public int PD0, PD1, PH0, PH1, PW0, PW1;
    public int OD, OH, OW;

    /// <summary>Input channels per group.</summary>
    public int Cg => C / Groups;

    /// <summary>Output channels per group.</summary>
    public int Og => O / Groups;

    /// <summary>Kernel taps per channel (KD*KH*KW).</summary>
    public int K => KD * KH * KW;

    /// <summary>Input elements per channel plane.</summary>
    public int InPlane => D * H * W;

    /// <summary>Output positions per channel (OD*OH*OW).</summary>
    public int OutPlane => OD * OH * OW;

    /// <summary>Output rows (OD*OH); column chunks are whole rows.</summary>
    public int OutRows => OD * OH;

    /// <summary>True when the op is a plain per-pixel channel mix (1x1x1 kernel, stride 1, no padding).</summary>
    public bool IsPointwise => K == 1 && SD == 1 && SH == 1 && SW == 1 && PD0 == 0 && PD1 == 0 && PH0 == 0 && PH1 == 0 && PW0 == 0 && PW1 == 0;

    /// <summary>
    /// Builds the geometry from spatial sizes given for 1..3 axes (leading axes filled with 1) and computes the output
    /// size. Validation of user input happens in the ops; this only throws when the window does not fit.
    /// </summary>
    public static ConvGeometry Create(string op, int n, int c, int[] spatial, int o, int groups, int[] kernel, int[] stride,
        int[] dilation, (int Before, int After)[] padding)
    {
        int s = spatial.Length;
        int[] Fill(int[] v, int def) { var r = new[] { def, def, def }; for (int i = 0; i < s; i++) r[3 - s + i] = v[i]; return r; }
        var sp = Fill(spatial, 1); var k = Fill(kernel, 1); var st = Fill(stride, 1); var dl = Fill(dilation, 1);
        var p0 = new int[3]; var p1 = new int[3];
        for (int i = 0; i < s; i++) { p0[3 - s + i] = padding[i].Before; p1[3 - s + i] = padding[i].After; }
        var g = new ConvGeometry
        {
            N = n, C = c, D = sp[0], H = sp[1], W = sp[2], O = o, Groups = groups,
            KD = k[0], KH = k[1], KW = k[2], SD = st[0], SH = st[1], SW = st[2], DD = dl[0], DH = dl[1], DW = dl[2],
            PD0 = p0[0], PD1 = p1[0], PH0 = p0[1], PH1 = p1[1], PW0 = p0[2], PW1 = p1[2],
        };
        var outs = new int[3];
        for (int i = 0; i < 3; i++)
        {
            int padded = sp[i] + p0[i] + p1[i];
            int span = dl[i] * (k[i] - 1) + 1;
            if (span > padded)
                throw new ArgumentException($"{op}: kernel extent {span} (kernel {k[i]}, dilation {dl[i]}) is larger than the padded input size {padded} " +
                    $"(input {sp[i]} + padding {p0[i]}+{p1[i]}) on spatial axis {i - (3 - s)}.");
            outs[i] = (padded - span) / st[i] + 1;
        }
        (g.OD, g.OH, g.OW) = (outs[0], outs[1], outs[2]);
        return g;
    }

    /// <summary>The output spatial sizes for the original number of spatial axes.</summary>
    public int[] OutSpatial(int spatialRank) => new[] { OD, OH, OW }[(3 - spatialRank)..];
}

/// <summary>
/// Unfold (im2col) and its adjoint fold (col2im). A column matrix has one row per (channel, kd, kh, kw) tap and one
/// column per output position; positions that fall into the padding read as zero (so padding never materialises).
/// Work is split into whole output rows (od, oh) so a caller can process a bounded chunk of the output at a time.
/// </summary>
public static unsafe class Im2Col
{
    /// <summary>
    /// cols[(c - c0)*K + tap, (r - row0)*OW + ow] = x[c, id, ih, iw] for channels [c0, c0 + cCount) of one image
    /// <paramref name="x"/> ([C, D, H, W]) and output rows [row0, row1).
    /// </summary>
    public static void Unfold(ConvGeometry g, ReadOnlySpan<float> x, int c0, int cCount, int row0, int row1, Span<float> cols)
    {
        int k = g.K, pc = (row1 - row0) * g.OW, plane = g.InPlane;
        int rows = cCount * k;
        if (rows == 0 || pc == 0) return;
        fixed (float* px = x, pcols = cols)
        {
            float* xp = px, cp = pcols;
            Parallelism.For(rows, Math.Max(1, 8192 / pc), (rs, re) =>
            {
                for (int row = rs; row < re; row++)
                {
                    int c = c0 + row / k, tap = row % k;
                    RowCopy(g, xp + (long)c * plane, cp + (long)row * pc, tap, row0, row1, accumulate: false);
                }
            });
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Unfold"/>: dx[c, id, ih, iw] += cols[...] for every tap that read that input element.
    /// Parallel over channels, so no two threads touch the same element of <paramref name="dx"/>.
    /// </summary>
    public static void Fold(ConvGeometry g, ReadOnlySpan<float> cols, int c0, int cCount, int row0, int row1, Span<float> dx)
    {
        int k = g.K, pc = (row1 - row0) * g.OW, plane = g.InPlane;
        if (cCount == 0 || pc == 0) return;
        fixed (float* pdx = dx, pcols = cols)
        {
            float* xp = pdx, cp = pcols;
            Parallelism.For(cCount, Math.Max(1, 8192 / Math.Max(1, pc * k)), (cs, ce) =>
            {
                for (int ci = cs; ci < ce; ci++)
                    for (int tap = 0; tap < k; tap++)
                        RowCopy(g, xp + (long)(c0 + ci) * plane, cp + ((long)ci * k + tap) * pc, tap, row0, row1, accumulate: true);
            });
        }
    }

    /// <summary>
    /// One tap of one channel over output rows [row0, row1): copies input into the column row, or (accumulate) adds the
    /// column row back into the input plane. The valid ow range is computed once per row, so the inner loop has no branches.
    /// </summary>
    private static void RowCopy(ConvGeometry g, float* plane, float* colRow, int tap, int row0, int row1, bool accumulate)
    {
        int kw = tap % g.KW, kh = tap / g.KW % g.KH, kd = tap / (g.KW * g.KH);
        int ow = g.OW, sw = g.SW, w = g.W;
        int offW = kw * g.DW - g.PW0;
        // Valid outputs: 0 <= o*sw + offW < W.
        int lo = offW >= 0 ? 0 : (-offW + sw - 1) / sw;
        int hi = w - 1 - offW < 0 ? 0 : (w - 1 - offW) / sw + 1;
        if (hi > ow) hi = ow;
        if (lo > hi) lo = hi;
        for (int r = row0; r < row1; r++)
        {
            int od = r / g.OH, oh = r - od * g.OH;
            int id = od * g.SD - g.PD0 + kd * g.DD, ih = oh * g.SH - g.PH0 + kh * g.DH;
            float* dst = colRow + (long)(r - row0) * ow;
            bool inside = (uint)id < (uint)g.D && (uint)ih < (uint)g.H;
            if (!accumulate)
            {
                if (!inside || lo == hi) { new Span<float>(dst, ow).Clear(); continue; }
                if (lo > 0) new Span<float>(dst, lo).Clear();
                if (hi < ow) new Span<float>(dst + hi, ow - hi).Clear();
            }
            else if (!inside || lo == hi) continue;
            float* src = plane + ((long)id * g.H + ih) * w + offW;
            if (sw == 1)
            {
                if (!accumulate) new ReadOnlySpan<float>(src + lo, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
                else System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(src + lo, hi - lo), new ReadOnlySpan<float>(dst + lo, hi - lo), new Span<float>(src + lo, hi - lo));
            }
            else if (!accumulate)
                for (int o = lo; o < hi; o++) dst[o] = src[(long)o * sw];
            else
                for (int o = lo; o < hi; o++) src[(long)o * sw] += dst[o];
        }
    }
}
