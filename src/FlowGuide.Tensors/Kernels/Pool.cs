namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Average pooling and nearest / bilinear upsampling on contiguous [planes, D, H, W] data (planes = N*C; 1-D and 2-D
/// inputs use D = H = 1 or D = 1). Every kernel is parallel over planes, so backward scatters never race.
/// </summary>
public static unsafe class Pool
{
    private static int PlaneChunk(int work) => Math.Max(1, 16384 / Math.Max(1, work));

    /// <summary>
    /// Average pooling with zero padding counted in the divisor (torch's count_include_pad=True): every window divides by
    /// KD*KH*KW. <paramref name="g"/> has C = channels and Groups = C; dilation is honoured.
    /// </summary>
    public static void AvgPoolForward(ConvGeometry g, ReadOnlySpan<float> x, Span<float> y)
    {
        int planes = g.N * g.C, inPlane = g.InPlane, outPlane = g.OutPlane;
        float inv = 1f / g.K;
        fixed (float* px = x, py = y)
        {
            float* xp = px, yp = py;
            Parallelism.For(planes, PlaneChunk(outPlane * g.K), (ps, pe) =>
            {
                for (int pl = ps; pl < pe; pl++)
                {
                    float* src = xp + (long)pl * inPlane, dst = yp + (long)pl * outPlane;
                    int oi = 0;
                    for (int od = 0; od < g.OD; od++)
                        for (int oh = 0; oh < g.OH; oh++)
                            for (int ow = 0; ow < g.OW; ow++, oi++)
                            {
                                float s = 0;
                                for (int kd = 0; kd < g.KD; kd++)
                                {
                                    int id = od * g.SD - g.PD0 + kd * g.DD;
                                    if ((uint)id >= (uint)g.D) continue;
                                    for (int kh = 0; kh < g.KH; kh++)
                                    {
                                        int ih = oh * g.SH - g.PH0 + kh * g.DH;
                                        if ((uint)ih >= (uint)g.H) continue;
                                        float* row = src + ((long)id * g.H + ih) * g.W;
                                        for (int kw = 0; kw < g.KW; kw++)
                                        {
                                            int iw = ow * g.SW - g.PW0 + kw * g.DW;
                                            if ((uint)iw < (uint)g.W) s += row[iw];
                                        }
                                    }
                                }
                                dst[oi] = s * inv;
                            }
                }
            });
        }
    }

    /// <summary>The adjoint of <see cref="AvgPoolForward"/>: spreads gy / K over each window; overwrites <paramref name="dx"/>.</summary>
    public static void AvgPoolBackward(ConvGeometry g, ReadOnlySpan<float> gy, Span<float> dx)
    {
        int planes = g.N * g.C, inPlane = g.InPlane, outPlane = g.OutPlane;
        float inv = 1f / g.K;
        dx.Clear();
        fixed (float* pg = gy, pd = dx)
        {
            float* gp = pg, dp = pd;
            Parallelism.For(planes, PlaneChunk(outPlane * g.K), (ps, pe) =>
            {
                for (int pl = ps; pl < pe; pl++)
                {
                    float* src = gp + (long)pl * outPlane, dst = dp + (long)pl * inPlane;
                    int oi = 0;
                    for (int od = 0; od < g.OD; od++)
                        for (int oh = 0; oh < g.OH; oh++)
                            for (int ow = 0; ow < g.OW; ow++, oi++)
                            {
                                float v = src[oi] * inv;
                                for (int kd = 0; kd < g.KD; kd++)
                                {
                                    int id = od * g.SD - g.PD0 + kd * g.DD;
                                    if ((uint)id >= (uint)g.D) continue;
                                    for (int kh = 0; kh < g.KH; kh++)
                                    {
                                        int ih = oh * g.SH - g.PH0 + kh * g.DH;
                                        if ((uint)ih >= (uint)g.H) continue;
                                        float* row = dst + ((long)id * g.H + ih) * g.W;
                                        for (int kw = 0; kw < g.KW; kw++)
                                        {
                                            int iw = ow * g.SW - g.PW0 + kw * g.DW;
                                            if ((uint)iw < (uint)g.W) row[iw] += v;
                                        }
                                    }
                                }
                            }
                }
            });
        }
    }

    /// <summary>y[p, d, h, w] = x[p, d / sd, h / sh, w / sw] for <paramref name="dims"/> = input [planes, D, H, W].</summary>
    public static void UpsampleNearestForward(int[] dims, int[] scale, ReadOnlySpan<float> x, Span<float> y)
    {
        int planes = dims[0], d = dims[1], h = dims[2], w = dims[3];
        int sd = scale[0], sh = scale[1], sw = scale[2];
        int od = d * sd, oh = h * sh, ow = w * sw;
        int inPlane = d * h * w, outPlane = od * oh * ow;
        fixed (float* px = x, py = y)
        {
            float* xp = px, yp = py;
            Parallelism.For(planes, PlaneChunk(outPlane), (ps, pe) =>
            {
                for (int pl = ps; pl < pe; pl++)
                    for (int r = 0; r < od * oh; r++)
                    {
                        int zd = r / oh, zh = r - zd * oh;
                        float* src = xp + (long)pl * inPlane + ((long)(zd / sd) * h + zh / sh) * w;
                        float* dst = yp + (long)pl * outPlane + (long)r * ow;
                        if (sw == 1) new ReadOnlySpan<float>(src, w).CopyTo(new Span<float>(dst, w));
                        else
                            for (int i = 0; i < w; i++)
                            {
                                float v = src[i];
                                for (int k = 0; k < sw; k++) dst[i * sw + k] = v;
                            }
                    }
            });
        }
    }

    /// <summary>The adjoint of <see cref="UpsampleNearestForward"/>: each input element receives the sum of its sd*sh*sw block.</summary>
    public static void UpsampleNearestBackward(int[] dims, int[] scale, ReadOnlySpan<float> gy, Span<float> dx)
    {
        int planes = dims[0], d = dims[1], h = dims[2], w = dims[3];
        int sd = scale[0], sh = scale[1], sw = scale[2];
        int oh = h * sh, ow = w * sw;
        int inPlane = d * h * w, outPlane = d * sd * oh * ow;
        fixed (float* pg = gy, pd = dx)
        {
            float* gp = pg, dp = pd;
            Parallelism.For(planes, PlaneChunk(outPlane), (ps, pe) =>
            {
                for (int pl = ps; pl < pe; pl++)
                    for (int r = 0; r < d * h; r++)
                    {
                        int zd = r / h, zh = r - zd * h;
                        float* dst = dp + (long)pl * inPlane + (long)r * w;
                        new Span<float>(dst, w).Clear();
                        for (int a = 0; a < sd; a++)
                            for (int b = 0; b < sh; b++)
                            {
                                float* src = gp + (long)pl * outPlane + ((long)(zd * sd + a) * oh + zh * sh + b) * ow;
                                for (int i = 0; i < w; i++)
                                {
                                    float s = 0;
                                    for (int k = 0; k < sw; k++) s += src[i * sw + k];
                                    dst[i] += s;
                                }
                            }
                    }
            });
        }
    }

    /// <summary>
    /// Source indices and weights of linear interpolation along one axis, as torch computes them: with align_corners
    /// src = dst * (in-1)/(out-1); without, src = (dst + 0.5) * in/out - 0.5 clamped at 0. out = w0 * x[i0] + w1 * x[i1].
    /// </summary>
    public static (int[] I0, int[] I1, float[] W0, float[] W1) LinearTaps(int inSize, int outSize, bool alignCorners)
    {
        var i0 = new int[outSize]; var i1 = new int[outSize]; var w0 = new float[outSize]; var w1 = new float[outSize];
        float scale = alignCorners ? (outSize > 1 ? (inSize - 1) / (float)(outSize - 1) : 0f) : inSize / (float)outSize;
        for (int o = 0; o < outSize; o++)
        {
            float src = alignCorners ? scale * o : Math.Max(0f, scale * (o + 0.5f) - 0.5f);
            int a = Math.Min((int)src, inSize - 1);
            i0[o] = a;
            i1[o] = a < inSize - 1 ? a + 1 : a;
            w1[o] = src - a;
            w0[o] = 1f - w1[o];
        }
        return (i0, i1, w0, w1);
    }

    /// <summary>Bilinear resize of [planes, H, W] to [planes, outH, outW] (torch's F.interpolate mode='bilinear').</summary>
    public static void BilinearForward(int planes, int h, int w, int outH, int outW, bool alignCorners, ReadOnlySpan<float> x, Span<float> y)
    {
        var th = LinearTaps(h, outH, alignCorners);
        var tw = LinearTaps(w, outW, alignCorners);
        fixed (float* px = x, py = y)
        {
            float* xp = px, yp = py;
            Parallelism.For(planes, PlaneChunk(outH * outW * 4), (ps, pe) =>
            {
                for (int pl = ps; pl < pe; pl++)
                {
                    float* src = xp + (long)pl * h * w, dst = yp + (long)pl * outH * outW;
                    for (int oh = 0; oh < outH; oh++)
                    {
                        float* r0 = src + (long)th.I0[oh] * w, r1 = src + (long)th.I1[oh] * w;
                        float a0 = th.W0[oh], a1 = th.W1[oh];
                        float* drow = dst + (long)oh * outW;
                        for (int ow = 0; ow < outW; ow++)
                        {
                            int c0 = tw.I0[ow], c1 = tw.I1[ow];
                            float b0 = tw.W0[ow], b1 = tw.W1[ow];
                            drow[ow] = a0 * (b0 * r0[c0] + b1 * r0[c1]) + a1 * (b0 * r1[c0] + b1 * r1[c1]);
                        }
                    }
                }
            });
        }
    }

    /// <summary>The adjoint of <see cref="BilinearForward"/>; overwrites <paramref name="dx"/> ([planes, H, W]).</summary>
    public static void BilinearBackward(int planes, int h, int w, int outH, int outW, bool alignCorners, ReadOnlySpan<float> gy, Span<float> dx)
    {
        var th = LinearTaps(h, outH, alignCorners);
        var tw = LinearTaps(w, outW, alignCorners);
        dx.Clear();
        fixed (float* pg = gy, pd = dx)
        {
            float* gp = pg, dp = pd;
            Parallelism.For(planes, PlaneChunk(outH * outW * 4), (ps, pe) =>
            {
                for (int pl = ps; pl < pe; pl++)
                {
                    float* src = gp + (long)pl * outH * outW, dst = dp + (long)pl * h * w;
                    for (int oh = 0; oh < outH; oh++)
                    {
                        float* r0 = dst + (long)th.I0[oh] * w, r1 = dst + (long)th.I1[oh] * w;
                        float a0 = th.W0[oh], a1 = th.W1[oh];
                        float* grow = src + (long)oh * outW;
                        for (int ow = 0; ow < outW; ow++)
                        {
                            int c0 = tw.I0[ow], c1 = tw.I1[ow];
                            float b0 = tw.W0[ow], b1 = tw.W1[ow], v = grow[ow];
                            r0[c0] += a0 * b0 * v; r0[c1] += a0 * b1 * v;
                            r1[c0] += a1 * b0 * v; r1[c1] += a1 * b1 * v;
                        }
                    }
                }
            });
        }
    }
}
