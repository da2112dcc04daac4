namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Bilinear grid sampling (torch.nn.functional.grid_sample, mode='bilinear') on input [N, C, H, W] with grid
/// [N, Ho, Wo, 2] holding (x, y) in [-1, 1]; output [N, C, Ho, Wo]. The arithmetic follows torch's CPU kernel
/// (unnormalise as (g + 1) * scale [- 0.5], corner weights from the distances to the four neighbours) so results agree
/// to float rounding. Forward and grid gradient are parallel over the N*Ho output rows; the input gradient is parallel
/// over the N*C planes (each plane is written by one thread, so the scatter needs no atomics).
/// </summary>
public static class GridSampleKernels
{
    /// <summary>Where one grid point samples: the north-west neighbour, the fractional offsets and d(pixel)/d(grid).</summary>
    private struct Location
    {
        public int X0, Y0;       // floor of the pixel coordinate; X0 = int.MinValue when every tap is outside
        public float Fx, Fy;     // x - X0, y - Y0
        public float Mx, My;     // d(pixel coordinate)/d(normalised coordinate), 0 where Border clipped
    }

    private static float Unnormalize(float g, int size, bool alignCorners, bool border, out float mult)
    {
        float scale = alignCorners ? (size - 1) / 2f : size / 2f;
        float c = (g + 1f) * scale;
        if (!alignCorners) c -= 0.5f;
        mult = scale;
        if (border)
        {
            // torch treats the clip limits themselves as clipped (zero gradient).
            float max = size - 1;
            if (!(c > 0f)) { c = 0f; mult = 0f; }
            else if (c >= max) { c = max; mult = 0f; }
        }
        return c;
    }

    private static Location Locate(float gx, float gy, int h, int w, bool alignCorners, bool border)
    {
        var l = new Location();
        float x = Unnormalize(gx, w, alignCorners, border, out l.Mx);
        float y = Unnormalize(gy, h, alignCorners, border, out l.My);
        // Outside (-1, size) every tap is out of bounds (also catches NaN and huge values before the int conversion).
        if (!(x > -1f && x < w && y > -1f && y < h)) { l.X0 = int.MinValue; return l; }
        float fx = MathF.Floor(x), fy = MathF.Floor(y);
        l.X0 = (int)fx; l.Y0 = (int)fy;
        l.Fx = x - fx; l.Fy = y - fy;
        return l;
    }

    /// <summary>Bilinear forward; parallel over the N*Ho output rows, channels innermost per point.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> input, int n, int c, int h, int w, ReadOnlySpan<float> grid, int ho, int wo,
        bool alignCorners, bool border, Span<float> output)
    {
        if (n * c * ho * wo == 0) return;
        int plane = h * w, oplane = ho * wo;
        fixed (float* pi = input, pg = grid, po = output)
        {
            float* in0 = pi, g0 = pg, o0 = po;
            Parallelism.For(n * ho, Math.Max(1, 2048 / Math.Max(1, wo * c)), (rs, re) =>
            {
                for (int row = rs; row < re; row++)
                {
                    int b = row / ho, i = row % ho;
                    float* inb = in0 + (long)b * c * plane;
                    float* ob = o0 + (long)b * c * oplane + (long)i * wo;
                    float* grow = g0 + (long)row * wo * 2;
                    for (int j = 0; j < wo; j++)
                    {
                        var l = Locate(grow[2 * j], grow[2 * j + 1], h, w, alignCorners, border);
                        if (l.X0 == int.MinValue)
                        {
                            for (int ch = 0; ch < c; ch++) ob[(long)ch * oplane + j] = 0f;
                            continue;
                        }
                        float e = 1f - l.Fx, s = 1f - l.Fy;
                        float wnw = s * e, wne = s * l.Fx, wsw = l.Fy * e, wse = l.Fy * l.Fx;
                        bool x0In = l.X0 >= 0, x1In = l.X0 + 1 < w, y0In = l.Y0 >= 0, y1In = l.Y0 + 1 < h;
                        int onw = l.Y0 * w + l.X0;
                        bool nwIn = x0In && y0In, neIn = x1In && y0In, swIn = x0In && y1In, seIn = x1In && y1In;
                        for (int ch = 0; ch < c; ch++)
                        {
                            float* p = inb + (long)ch * plane + onw;
                            float vnw = nwIn ? p[0] : 0f, vne = neIn ? p[1] : 0f;
                            float vsw = swIn ? p[w] : 0f, vse = seIn ? p[w + 1] : 0f;
                            ob[(long)ch * oplane + j] = vnw * wnw + vne * wne + vsw * wsw + vse * wse;
                        }
                    }
                }
            });
        }
    }

    /// <summary>
    /// Scalar twin of <see cref="Forward"/>, written from torch's reference formulas (unnormalise as ((g + 1) * size - 1) / 2,
    /// weights as products of distances to the opposite corner), one output element at a time.
    /// </summary>
    public static void ForwardScalar(ReadOnlySpan<float> input, int n, int c, int h, int w, ReadOnlySpan<float> grid, int ho, int wo,
        bool alignCorners, bool border, Span<float> output)
    {
        for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            int gi = ((b * ho + i) * wo + j) * 2;
            float ix = alignCorners ? (grid[gi] + 1) / 2 * (w - 1) : ((grid[gi] + 1) * w - 1) / 2;
            float iy = alignCorners ? (grid[gi + 1] + 1) / 2 * (h - 1) : ((grid[gi + 1] + 1) * h - 1) / 2;
            if (border)
            {
                ix = Math.Min(w - 1, Math.Max(ix, 0));
                iy = Math.Min(h - 1, Math.Max(iy, 0));
            }
            double fx = Math.Floor((double)ix), fy = Math.Floor((double)iy);
            double acc = 0;
            for (int dy = 0; dy <= 1; dy++)
            for (int dx = 0; dx <= 1; dx++)
            {
                double px = fx + dx, py = fy + dy;
                if (px < 0 || px > w - 1 || py < 0 || py > h - 1) continue;
                double wt = (1 - Math.Abs(ix - px)) * (1 - Math.Abs(iy - py));
                acc += wt * input[((b * c + ch) * h + (int)py) * w + (int)px];
            }
            output[((b * c + ch) * ho + i) * wo + j] = (float)acc;
        }
    }

    /// <summary>
    /// Gradient with respect to the input: gradInput (zeroed by the caller, [N, C, H, W]) receives each output gradient
    /// spread over its four taps. Locations are computed once per point, then planes are processed in parallel.
    /// </summary>
    public static unsafe void BackwardInput(ReadOnlySpan<float> gradOut, int n, int c, int h, int w, ReadOnlySpan<float> grid, int ho, int wo,
        bool alignCorners, bool border, Span<float> gradInput)
    {
        int points = ho * wo, plane = h * w;
        if (n * c * points == 0) return;
        var locs = Locations(grid, n, h, w, points, alignCorners, border);
        fixed (float* pgo = gradOut, pgi = gradInput)
        fixed (Location* pl = locs)
        {
            float* go0 = pgo, gi0 = pgi;
            Location* l0 = pl;
            Parallelism.For(n * c, Math.Max(1, 4096 / points), (ps, pe) =>
            {
                for (int pidx = ps; pidx < pe; pidx++)
                {
                    int b = pidx / c;
                    float* go = go0 + (long)pidx * points;
                    float* gi = gi0 + (long)pidx * plane;
                    Location* lb = l0 + (long)b * points;
                    for (int k = 0; k < points; k++)
                    {
                        var l = lb[k];
                        if (l.X0 == int.MinValue) continue;
                        float g = go[k];
                        float e = 1f - l.Fx, s = 1f - l.Fy;
                        bool x0In = l.X0 >= 0, x1In = l.X0 + 1 < w, y0In = l.Y0 >= 0, y1In = l.Y0 + 1 < h;
                        int o = l.Y0 * w + l.X0;
                        if (x0In && y0In) gi[o] += s * e * g;
                        if (x1In && y0In) gi[o + 1] += s * l.Fx * g;
                        if (x0In && y1In) gi[o + w] += l.Fy * e * g;
                        if (x1In && y1In) gi[o + w + 1] += l.Fy * l.Fx * g;
                    }
                }
            });
        }
    }

    /// <summary>
    /// Gradient with respect to the grid ([N, Ho, Wo, 2], overwritten): the derivative of the bilinear weights, summed over
    /// channels, times d(pixel)/d(grid) (zero where Border clipped the coordinate). Parallel over output rows.
    /// </summary>
    public static unsafe void BackwardGrid(ReadOnlySpan<float> gradOut, ReadOnlySpan<float> input, int n, int c, int h, int w,
        ReadOnlySpan<float> grid, int ho, int wo, bool alignCorners, bool border, Span<float> gradGrid)
    {
        if (n * ho * wo == 0) return;
        int plane = h * w, oplane = ho * wo;
        fixed (float* pgo = gradOut, pi = input, pg = grid, pgg = gradGrid)
        {
            float* go0 = pgo, in0 = pi, g0 = pg, gg0 = pgg;
            Parallelism.For(n * ho, Math.Max(1, 2048 / Math.Max(1, wo * c)), (rs, re) =>
            {
                for (int row = rs; row < re; row++)
                {
                    int b = row / ho, i = row % ho;
                    float* inb = in0 + (long)b * c * plane;
                    float* gob = go0 + (long)b * c * oplane + (long)i * wo;
                    float* grow = g0 + (long)row * wo * 2;
                    float* ggrow = gg0 + (long)row * wo * 2;
                    for (int j = 0; j < wo; j++)
                    {
                        var l = Locate(grow[2 * j], grow[2 * j + 1], h, w, alignCorners, border);
                        if (l.X0 == int.MinValue) { ggrow[2 * j] = 0f; ggrow[2 * j + 1] = 0f; continue; }
                        float e = 1f - l.Fx, s = 1f - l.Fy;
                        bool x0In = l.X0 >= 0, x1In = l.X0 + 1 < w, y0In = l.Y0 >= 0, y1In = l.Y0 + 1 < h;
                        bool nwIn = x0In && y0In, neIn = x1In && y0In, swIn = x0In && y1In, seIn = x1In && y1In;
                        int onw = l.Y0 * w + l.X0;
                        float gx = 0f, gy = 0f;
                        for (int ch = 0; ch < c; ch++)
                        {
                            float* p = inb + (long)ch * plane + onw;
                            float vnw = nwIn ? p[0] : 0f, vne = neIn ? p[1] : 0f;
                            float vsw = swIn ? p[w] : 0f, vse = seIn ? p[w + 1] : 0f;
                            float g = gob[(long)ch * oplane + j];
                            gx += ((vne - vnw) * s + (vse - vsw) * l.Fy) * g;
                            gy += ((vsw - vnw) * e + (vse - vne) * l.Fx) * g;
                        }
                        ggrow[2 * j] = gx * l.Mx;
                        ggrow[2 * j + 1] = gy * l.My;
                    }
                }
            });
        }
    }

    private static Location[] Locations(ReadOnlySpan<float> grid, int n, int h, int w, int points, bool alignCorners, bool border)
    {
        var locs = new Location[n * points];
        for (int k = 0; k < locs.Length; k++)
            locs[k] = Locate(grid[2 * k], grid[2 * k + 1], h, w, alignCorners, border);
        return locs;
    }
}
