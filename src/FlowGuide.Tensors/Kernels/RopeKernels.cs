namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Rotary position embedding with interleaved pairs on x seen as [outer, tokens, inner, dim]: pair i of every row at
/// token t is rotated by the angle whose cosine and sine are cos[t, i], sin[t, i]. Rows are split over threads. The
/// pair loop is scalar on purpose: it is memory-bound and a tiny fraction of an attention block's time.
/// </summary>
public static unsafe class RopeKernels
{
    /// <summary>
    /// y[2i] = x[2i] cos - x[2i+1] sin, y[2i+1] = x[2i] sin + x[2i+1] cos; with <paramref name="inverse"/> the rotation
    /// by the opposite angle (the transpose, used for the gradient). y may alias x.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, Span<float> y,
        int outer, int tokens, int inner, int dim, bool inverse)
    {
        long total = (long)outer * tokens * inner * dim;
        int half = dim / 2;
        if (dim % 2 != 0 || x.Length < total || y.Length < total || cos.Length < (long)tokens * half || sin.Length < (long)tokens * half)
            throw new ArgumentException($"RopeKernels.Apply: buffers do not match [outer {outer}, tokens {tokens}, inner {inner}, dim {dim}] (dim must be even, tables [tokens, dim/2]).");
        if (total == 0) return;
        float sign = inverse ? -1f : 1f;
        fixed (float* px = x, pc = cos, ps = sin, py = y)
        {
            float* xp = px, cp = pc, sp = ps, yp = py;
            int rows = outer * tokens * inner;
            Parallelism.For(rows, Math.Max(1, 16384 / dim), (s, e) =>
            {
                for (int r = s; r < e; r++)
                {
                    int t = r / inner % tokens;
                    float* xr = xp + (long)r * dim, yr = yp + (long)r * dim, cr = cp + (long)t * half, sr = sp + (long)t * half;
                    for (int i = 0; i < half; i++)
                    {
                        float a = xr[2 * i], b = xr[2 * i + 1], c = cr[i], sn = sign * sr[i];
                        yr[2 * i] = a * c - b * sn;
                        yr[2 * i + 1] = a * sn + b * c;
                    }
                }
            });
        }
    }
}
