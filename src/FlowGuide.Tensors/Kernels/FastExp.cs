using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// A vectorised float exp fused with the passes the attention kernels make over a tile row, so a row is read and
/// written once instead of once per TensorPrimitives call. exp(x) = 2^n * e^r with n = round(x / ln 2) and
/// |r| &lt;= ln2 / 2, e^r from a degree-7 polynomial (Cephes expf coefficients; within 2 ulp of MathF.Exp).
/// Inputs below -87.3 give 0 (not a denormal), above 88 saturate at exp(88); NaN propagates.
/// <see cref="ExpScalar"/> is the per-element twin used by the parity tests.
/// </summary>
internal static unsafe class FastExp
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    private const float MinX = -87.3f, MaxX = 88f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(MinX)), Vector512.Create(MaxX));
        var n = Vector512.Round(xc * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        var e = p * scale;
        e = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(MinX)), Vector512<float>.Zero, e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);
    }

    /// <summary>The same computation one element at a time (also the tail of the span loops).</summary>
    public static float ExpScalar(float x)
    {
        if (float.IsNaN(x)) return x;
        if (x < MinX) return 0f;
        float xc = Math.Min(x, MaxX);
        float n = MathF.Round(xc * Log2E, MidpointRounding.ToEven);
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, xc);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r);
        float p = MathF.FusedMultiplyAdd(P0, r, P1);
        p = MathF.FusedMultiplyAdd(p, r, P2);
        p = MathF.FusedMultiplyAdd(p, r, P3);
        p = MathF.FusedMultiplyAdd(p, r, P4);
        p = MathF.FusedMultiplyAdd(p, r, P5);
        p = MathF.FusedMultiplyAdd(p, r * r, r + 1f);
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <summary>row[i] = exp(row[i] - shift); returns the sum of the new values.</summary>
    public static float ExpShiftSum(float* row, int n, float shift)
    {
        int i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            var s = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var e = Exp(Vector512.Load(row + i) - s);
                e.Store(row + i);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        for (; i < n; i++) sum += row[i] = ExpScalar(row[i] - shift);
        return sum;
    }

    /// <summary>row[i] = exp(row[i] - shift).</summary>
    public static void ExpShift(float* row, int n, float shift)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16) Exp(Vector512.Load(row + i) - s).Store(row + i);
        }
        for (; i < n; i++) row[i] = ExpScalar(row[i] - shift);
    }

    /// <summary>row[i] = p[i] * (row[i] - shift): the softmax backward dS = P * (dP - D) in one pass.</summary>
    public static void ShiftMul(float* row, float* p, int n, float shift)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16) (Vector512.Load(p + i) * (Vector512.Load(row + i) - s)).Store(row + i);
        }
        for (; i < n; i++) row[i] = p[i] * (row[i] - shift);
    }
}
