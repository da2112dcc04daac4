using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Rotary position embedding with interleaved pairs on x seen as [outer, tokens, inner, dim]: pair i of every row at
/// token t is rotated by the angle whose cosine and sine are cos[t, i], sin[t, i]. Rows are split over threads; within
/// a row, whole vectors of pairs at a time: y = x * dup(cos) + swap(x) * (-+)dup(sin), where dup repeats each table
/// entry twice and swap exchanges the two halves of each pair. The widest accelerated width is used
/// (<see cref="ManagedGemm.Default"/>: 8 pairs per Vector512, 8 per two Vector256, 4 per two Vector128); an internal
/// overload takes the width so tests can force each. <see cref="ApplyScalar"/> is the per-pair twin.
/// </summary>
public static unsafe class RopeKernels
{
    /// <summary>
    /// y[2i] = x[2i] cos - x[2i+1] sin, y[2i+1] = x[2i] sin + x[2i+1] cos; with <paramref name="inverse"/> the rotation
    /// by the opposite angle (the transpose, used for the gradient). y may alias x.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, Span<float> y,
        int outer, int tokens, int inner, int dim, bool inverse) =>
        Apply(ManagedGemm.Default, x, cos, sin, y, outer, tokens, inner, dim, inverse);

    /// <summary><see cref="Apply(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, bool)"/> at an explicit vector width.</summary>
    internal static void Apply(MicroKernel kind, ReadOnlySpan<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, Span<float> y,
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
                    int i = kind switch
                    {
                        MicroKernel.V512 => Rotate512(xr, cr, sr, yr, half, sign),
                        MicroKernel.V256 => Rotate256(xr, cr, sr, yr, half, sign),
                        _ => Rotate128(xr, cr, sr, yr, half, sign),
                    };
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

    /// <summary>Rotates pairs 0 .. 8*floor(half/8) of one row; returns the first pair left for the scalar tail.</summary>
    private static int Rotate512(float* xr, float* cr, float* sr, float* yr, int half, float sign)
    {
        int i = 0;
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
        return i;
    }

    /// <summary>8 pairs per step as two Vector256 halves (table entries 0-3 and 4-7 duplicated by one shuffle each).</summary>
    private static int Rotate256(float* xr, float* cr, float* sr, float* yr, int half, float sign)
    {
        int i = 0;
        var dupLo = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
        var dupHi = Vector256.Create(4, 4, 5, 5, 6, 6, 7, 7);
        var swap = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6);
        var signs = Vector256.Create(-sign, sign, -sign, sign, -sign, sign, -sign, sign);
        for (; i + 8 <= half; i += 8)
        {
            var c8 = Vector256.Load(cr + i);
            var s8 = Vector256.Load(sr + i);
            var x0 = Vector256.Load(xr + 2 * i);
            var x1 = Vector256.Load(xr + 2 * i + 8);
            var s0 = Vector256.Shuffle(s8, dupLo) * signs;
            var s1 = Vector256.Shuffle(s8, dupHi) * signs;
            Vector256.MultiplyAddEstimate(Vector256.Shuffle(x0, swap), s0, x0 * Vector256.Shuffle(c8, dupLo)).Store(yr + 2 * i);
            Vector256.MultiplyAddEstimate(Vector256.Shuffle(x1, swap), s1, x1 * Vector256.Shuffle(c8, dupHi)).Store(yr + 2 * i + 8);
        }
        return i;
    }

    /// <summary>4 pairs per step as two Vector128 halves.</summary>
    private static int Rotate128(float* xr, float* cr, float* sr, float* yr, int half, float sign)
    {
        int i = 0;
        var dupLo = Vector128.Create(0, 0, 1, 1);
        var dupHi = Vector128.Create(2, 2, 3, 3);
        var swap = Vector128.Create(1, 0, 3, 2);
        var signs = Vector128.Create(-sign, sign, -sign, sign);
        for (; i + 4 <= half; i += 4)
        {
            var c4 = Vector128.Load(cr + i);
            var s4 = Vector128.Load(sr + i);
            var x0 = Vector128.Load(xr + 2 * i);
            var x1 = Vector128.Load(xr + 2 * i + 4);
            var s0 = Vector128.Shuffle(s4, dupLo) * signs;
            var s1 = Vector128.Shuffle(s4, dupHi) * signs;
            Vector128.MultiplyAddEstimate(Vector128.Shuffle(x0, swap), s0, x0 * Vector128.Shuffle(c4, dupLo)).Store(yr + 2 * i);
            Vector128.MultiplyAddEstimate(Vector128.Shuffle(x1, swap), s1, x1 * Vector128.Shuffle(c4, dupHi)).Store(yr + 2 * i + 4);
        }
        return i;
    }

    /// <summary>Per-pair twin of <see cref="Apply(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, bool)"/> for the parity tests.</summary>
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
