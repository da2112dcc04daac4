using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// A vectorised float exp fused with the passes the attention kernels make over a tile row, so a row is read and
/// written once instead of once per TensorPrimitives call. exp(x) = 2^n * e^r with n = round(x / ln 2) and
/// |r| &lt;= ln2 / 2, e^r from a degree-7 polynomial (Cephes expf coefficients; within 2 ulp of MathF.Exp).
/// Inputs below -87.3 give 0 (not a denormal), above 88 saturate at exp(88); NaN propagates.
/// Each row pass runs at the widest accelerated width (<see cref="ManagedGemm.Default"/>: Vector512, Vector256 or
/// Vector128) and has an overload taking the width so tests can force each one. The 256/128-bit bodies use
/// MultiplyAddEstimate, which is a fused multiply-add where the hardware has one (AVX2, NEON) and a multiply then add
/// on SSE-only parts (where FusedMultiplyAdd would fall back to slow software).
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(MinX)), Vector256.Create(MaxX));
        var n = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.MultiplyAddEstimate(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.MultiplyAddEstimate(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P2));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P3));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P4));
        p = Vector256.MultiplyAddEstimate(p, r, Vector256.Create(P5));
        p = Vector256.MultiplyAddEstimate(p, r * r, r + Vector256<float>.One);
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        var e = p * scale;
        e = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(MinX)), Vector256<float>.Zero, e);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), e, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        var xc = Vector128.Min(Vector128.Max(x, Vector128.Create(MinX)), Vector128.Create(MaxX));
        var n = Vector128.Round(xc * Vector128.Create(Log2E));
        var r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-Ln2Hi), xc);
        r = Vector128.MultiplyAddEstimate(n, Vector128.Create(-Ln2Lo), r);
        var p = Vector128.MultiplyAddEstimate(Vector128.Create(P0), r, Vector128.Create(P1));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P2));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P3));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P4));
        p = Vector128.MultiplyAddEstimate(p, r, Vector128.Create(P5));
        p = Vector128.MultiplyAddEstimate(p, r * r, r + Vector128<float>.One);
        var scale = Vector128.ShiftLeft(Vector128.ConvertToInt32(n) + Vector128.Create(127), 23).AsSingle();
        var e = p * scale;
        e = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(MinX)), Vector128<float>.Zero, e);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), e, x);
    }

    /// <summary>
    /// The same computation one element at a time (also the tail of the span loops). Like the vector bodies it fuses
    /// the multiply-adds exactly when the hardware has FMA, so every width agrees with it to the bit on FMA hardware
    /// and within an ulp or two without.
    /// </summary>
    public static float ExpScalar(float x)
    {
        if (float.IsNaN(x)) return x;
        if (x < MinX) return 0f;
        float xc = Math.Min(x, MaxX);
        float n = MathF.Round(xc * Log2E, MidpointRounding.ToEven);
        float r = float.MultiplyAddEstimate(n, -Ln2Hi, xc);
        r = float.MultiplyAddEstimate(n, -Ln2Lo, r);
        float p = float.MultiplyAddEstimate(P0, r, P1);
        p = float.MultiplyAddEstimate(p, r, P2);
        p = float.MultiplyAddEstimate(p, r, P3);
        p = float.MultiplyAddEstimate(p, r, P4);
        p = float.MultiplyAddEstimate(p, r, P5);
        p = float.MultiplyAddEstimate(p, r * r, r + 1f);
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <summary>row[i] = exp(row[i] - shift); returns the sum of the new values.</summary>
    public static float ExpShiftSum(float* row, int n, float shift) => ExpShiftSum(ManagedGemm.Default, row, n, shift);

    /// <summary><see cref="ExpShiftSum(float*, int, float)"/> at an explicit vector width.</summary>
    public static float ExpShiftSum(MicroKernel kind, float* row, int n, float shift)
    {
        int i = 0;
        float sum = 0f;
        if (kind == MicroKernel.V512)
        {
            if (n >= 16)
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
        }
        else if (kind == MicroKernel.V256)
        {
            if (n >= 8)
            {
                var s = Vector256.Create(shift);
                var acc = Vector256<float>.Zero;
                for (; i + 8 <= n; i += 8)
                {
                    var e = Exp(Vector256.Load(row + i) - s);
                    e.Store(row + i);
                    acc += e;
                }
                sum = Vector256.Sum(acc);
            }
        }
        else if (n >= 4)
        {
            var s = Vector128.Create(shift);
            var acc = Vector128<float>.Zero;
            for (; i + 4 <= n; i += 4)
            {
                var e = Exp(Vector128.Load(row + i) - s);
                e.Store(row + i);
                acc += e;
            }
            sum = Vector128.Sum(acc);
        }
        for (; i < n; i++) sum += row[i] = ExpScalar(row[i] - shift);
        return sum;
    }

    /// <summary>row[i] = exp(row[i] - shift).</summary>
    public static void ExpShift(float* row, int n, float shift) => ExpShift(ManagedGemm.Default, row, n, shift);

    /// <summary><see cref="ExpShift(float*, int, float)"/> at an explicit vector width.</summary>
    public static void ExpShift(MicroKernel kind, float* row, int n, float shift)
    {
        int i = 0;
        if (kind == MicroKernel.V512)
        {
            var s = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16) Exp(Vector512.Load(row + i) - s).Store(row + i);
        }
        else if (kind == MicroKernel.V256)
        {
            var s = Vector256.Create(shift);
            for (; i + 8 <= n; i += 8) Exp(Vector256.Load(row + i) - s).Store(row + i);
        }
        else
        {
            var s = Vector128.Create(shift);
            for (; i + 4 <= n; i += 4) Exp(Vector128.Load(row + i) - s).Store(row + i);
        }
        for (; i < n; i++) row[i] = ExpScalar(row[i] - shift);
    }

    /// <summary>row[i] = p[i] * (row[i] - shift): the softmax backward dS = P * (dP - D) in one pass.</summary>
    public static void ShiftMul(float* row, float* p, int n, float shift) => ShiftMul(ManagedGemm.Default, row, p, n, shift);

    /// <summary><see cref="ShiftMul(float*, float*, int, float)"/> at an explicit vector width.</summary>
    public static void ShiftMul(MicroKernel kind, float* row, float* p, int n, float shift)
    {
        int i = 0;
        if (kind == MicroKernel.V512)
        {
            var s = Vector512.Create(shift);
            for (; i + 16 <= n; i += 16) (Vector512.Load(p + i) * (Vector512.Load(row + i) - s)).Store(row + i);
        }
        else if (kind == MicroKernel.V256)
        {
            var s = Vector256.Create(shift);
            for (; i + 8 <= n; i += 8) (Vector256.Load(p + i) * (Vector256.Load(row + i) - s)).Store(row + i);
        }
        else
        {
            var s = Vector128.Create(shift);
            for (; i + 4 <= n; i += 4) (Vector128.Load(p + i) * (Vector128.Load(row + i) - s)).Store(row + i);
        }
        for (; i < n; i++) row[i] = p[i] * (row[i] - shift);
    }
}
