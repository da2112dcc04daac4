namespace FlowGuide.Media;

/// <summary>Sample range of Y'CbCr: limited ("TV", Y 16..235, Cb/Cr 16..240) or full ("PC"/JPEG, 0..255).</summary>
public enum YuvRange { Limited, Full }

/// <summary>Where 4:2:0 / 4:2:2 chroma samples sit relative to luma, as Y4M's C tag names them.</summary>
public enum ChromaSiting
{
    /// <summary>Centred between luma samples horizontally and vertically (C420jpeg, C420).</summary>
    Centered,
    /// <summary>Co-sited with the left luma sample, centred vertically (C420mpeg2, C422).</summary>
    Left,
}

/// <summary>
/// BT.601 R'G'B' &lt;-&gt; Y'CbCr conversion (the matrix SD video and JPEG use: Kr 0.299, Kb 0.114) in either range,
/// plus the chroma down/upsampling filters for subsampled planes. Chroma downsampling averages the two (centred) or
/// weighs [1/4, 1/2, 1/4] (left-sited) source samples per axis; upsampling is linear interpolation at the sited
/// positions with edge clamping. Everything is done in float and rounded once at the end.
/// </summary>
internal static class YCbCr
{
    public static void RgbToYuv(byte[] rgb, int n, YuvRange range, float[] y, float[] cb, float[] cr)
    {
        float ys = range == YuvRange.Full ? 1f : 219f / 255f, yo = range == YuvRange.Full ? 0f : 16f;
        float cs = range == YuvRange.Full ? 1f : 224f / 255f;
        for (int p = 0; p < n; p++)
        {
            float r = rgb[3 * p], g = rgb[3 * p + 1], b = rgb[3 * p + 2];
            y[p] = yo + ys * (0.299f * r + 0.587f * g + 0.114f * b);
            cb[p] = 128f + cs * (-0.168736f * r - 0.331264f * g + 0.5f * b);
            cr[p] = 128f + cs * (0.5f * r - 0.418688f * g - 0.081312f * b);
        }
    }

    public static void YuvToRgb(ReadOnlySpan<float> y, ReadOnlySpan<float> cb, ReadOnlySpan<float> cr, int n, YuvRange range, byte[] rgb)
    {
        float ys = range == YuvRange.Full ? 1f : 255f / 219f, yo = range == YuvRange.Full ? 0f : 16f;
        float cs = range == YuvRange.Full ? 1f : 255f / 224f;
        for (int p = 0; p < n; p++)
        {
            float l = (y[p] - yo) * ys, u = (cb[p] - 128f) * cs, v = (cr[p] - 128f) * cs;
            rgb[3 * p] = Clamp(l + 1.402f * v);
            rgb[3 * p + 1] = Clamp(l - 0.344136f * u - 0.714136f * v);
            rgb[3 * p + 2] = Clamp(l + 1.772f * u);
        }
    }

    public static byte Clamp(float v) => v <= 0f ? (byte)0 : v >= 255f ? (byte)255 : (byte)(v + 0.5f);

    /// <summary>Halves a plane along x (sx) and/or y (sy) with the filter for <paramref name="siting"/> (vertical is always centred).</summary>
    public static float[] Downsample(float[] src, int w, int h, bool sx, bool sy, ChromaSiting siting)
    {
        int ow = sx ? (w + 1) / 2 : w, oh = sy ? (h + 1) / 2 : h;
        var tmp = new float[ow * h];
        for (int r = 0; r < h; r++)
        for (int i = 0; i < ow; i++)
        {
            if (!sx) { tmp[r * ow + i] = src[r * w + i]; continue; }
            int x = 2 * i;
            float Px(int xx) => src[r * w + Math.Clamp(xx, 0, w - 1)];
            tmp[r * ow + i] = siting == ChromaSiting.Centered
                ? 0.5f * (Px(x) + Px(x + 1))
                : 0.25f * Px(x - 1) + 0.5f * Px(x) + 0.25f * Px(x + 1);
        }
        if (!sy) return tmp;
        var dst = new float[ow * oh];
        for (int j = 0; j < oh; j++)
        {
            int r0 = 2 * j, r1 = Math.Min(2 * j + 1, h - 1);
            for (int i = 0; i < ow; i++) dst[j * ow + i] = 0.5f * (tmp[r0 * ow + i] + tmp[r1 * ow + i]);
        }
        return dst;
    }

    /// <summary>Inverse of <see cref="Downsample"/>: linear interpolation back to w x h at the sited chroma positions.</summary>
    public static float[] Upsample(ReadOnlySpan<byte> src, int cw, int ch, int w, int h, bool sx, bool sy, ChromaSiting siting)
    {
        // Vertical (centred: chroma row j sits at luma y = 2j + 0.5).
        var tmp = new float[cw * h];
        for (int y = 0; y < h; y++)
        {
            if (!sy) { for (int i = 0; i < cw; i++) tmp[y * cw + i] = src[y * cw + i]; continue; }
            Weights(y, 0.5f, ch, out int j0, out int j1, out float f);
            for (int i = 0; i < cw; i++) tmp[y * cw + i] = src[j0 * cw + i] * (1 - f) + src[j1 * cw + i] * f;
        }
        if (!sx) return tmp;
        var dst = new float[w * h];
        float off = siting == ChromaSiting.Centered ? 0.5f : 0f;
        for (int x = 0; x < w; x++)
        {
            Weights(x, off, cw, out int i0, out int i1, out float f);
            for (int y = 0; y < h; y++) dst[y * w + x] = tmp[y * cw + i0] * (1 - f) + tmp[y * cw + i1] * f;
        }
        return dst;
    }

    private static void Weights(int lumaPos, float offset, int n, out int i0, out int i1, out float frac)
    {
        float pos = (lumaPos - offset) / 2f;
        if (pos <= 0) { i0 = i1 = 0; frac = 0; return; }
        i0 = (int)pos;
        if (i0 >= n - 1) { i0 = i1 = n - 1; frac = 0; return; }
        i1 = i0 + 1;
        frac = pos - i0;
    }
}
