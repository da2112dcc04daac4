using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Rotary position embedding with interleaved pairs on x seen as [outer, tokens, inner, dim]: pair i of every row at
/// token t is rotated by the angle whose cosine and sine are cos[t, i], sin[t, i]. Rows are split over threads; within
/// a row, 8 pairs at a time: y = x * dup(cos) + swap(x) * (-+)dup(sin), where dup repeats each table entry twice and
/// swap exchanges the two halves of each pair. <see cref="ApplyScalar"/> is the per-pair twin.
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
                    int i = 0;
                    if (Vector512.IsHardwareAccelerated)
                    {
                        var dup = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                        var swap = Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
                        var signs = Vector512.Create(-sign, sign, -sign, sign, -sign, sign, -sign, sign, -sign, sign, -sign, sign, -sign, sign, -sign, sign);
                        for (; i + 8 <= half; i += 8)
                        {
                            var xv = Vector512.Load(xr + 2 * i);
                            var c = Vector512.Shuffle(Vector256.Load(cr + i).ToVector512Unsafe(), dup);
                            var sv = Vector512.Shuffle(Vector256.Load(sr + i).ToVector512Unsafe(), dup) * signs;
                            Vector512.FusedMultiplyAdd(Vector512.Shuffle(xv, swap), sv, xv * c).Store(yr + 2 * i);
                        }
                    }
                    for (; i < half; i++)
                    {
                        float a = xr[2 * i], b = xr[2 * i + 1], c = cr[i], sn = sign * sr[i];
                        yr[2 * i] = a * c - b * sn;
                        yr[2 * i + 1] = a * sn + b * c;
                    }
                }
            });
        }
    }

    /// <summary>Per-pair twin of <see cref="Apply"/> for the parity tests.</summary>
    public static void ApplyScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, Span<float> y,
        int outer, int tokens, int inner, int dim, bool inverse)
    {
        int half = dim / 2, rows = outer * tokens * inner;
        for (int r = 0; r < rows; r++)
        {
            int t = r / inner % tokens;
            for (int i = 0; i < half; i++)
            {
                float a = x[r * dim + 2 * i], b = x[r * dim + 2 * i + 1], c = cos[t * half + i], sn = inverse ? -sin[t * half + i] : sin[t * half + i];
                y[r * dim + 2 * i] = a * c - b * sn;
                y[r * dim + 2 * i + 1] = a * sn + b * c;
            }
        }
    }
}
