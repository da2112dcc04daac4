using System.Numerics;

namespace FlowGuide.Tensors;

/// <summary>
/// Natural log, sine and cosine in double that give the same bits on every platform and JIT.
/// </summary>
/// <remarks>
/// <see cref="Math.Log(double)"/>, <see cref="Math.Sin"/> and <see cref="Math.Cos"/> call the platform C runtime, whose
/// last-bit results differ between glibc, the Windows CRT and Apple's libm. These functions use only IEEE
/// + - * / (each correctly rounded by the standard, no fused multiply-add, no platform calls), so a seed gives the same
/// noise everywhere. Accuracy is about 1e-16 relative (a few ulps), not correct rounding.
/// Argument reduction for sin/cos is exact: |x| below about 1.6e6 is reduced by a four-part Cody–Waite split of pi/2
/// tracked in double-double; larger |x| by a Payne–Hanek style reduction in big-integer fixed point against 2/pi to
/// 1200 bits. The constants (pi/2 parts, ln 2 parts, 2/pi) are computed at start-up in exact integer arithmetic
/// rather than typed in.
/// </remarks>
public static class DeterministicMath
{
    // ---------------------------------------------------------------- constants from exact integer arithmetic

    private const int PiFracBits = 1400;

    /// <summary>floor(pi * 2^PiFracBits), by Machin's formula pi = 16 atan(1/5) - 4 atan(1/239) with guard bits.</summary>
    private static readonly BigInteger PiFixed = ComputePiFixed();

    /// <summary>round(2/pi * 2^TwoOverPiBits) for the large-argument reduction.</summary>
    private const int TwoOverPiBits = 1200;
    private static readonly BigInteger TwoOverPiFixed = (BigInteger.One << (TwoOverPiBits + PiFracBits + 1)) / PiFixed;

    // pi/2 = P1 + P2 + P3 + P4 (+ < 2^-150): P1..P3 hold 33 significant bits each, so k * Pi is exact for k < 2^20.
    private static readonly double PiO2P1, PiO2P2, PiO2P3, PiO2P4;
    private const double MediumLimit = 1.6e6; // |x| / (pi/2) < 2^20

    // ln 2 = Ln2Hi + Ln2Lo with Ln2Hi holding 42 bits, so e * Ln2Hi is exact for every double exponent.
    private static readonly double Ln2Hi, Ln2Lo;

    /// <summary>2 pi rounded to double (used only where the RNG maps 32-bit integers to angles).</summary>
    internal static readonly double TwoPi;
    private static readonly double TwoOverPi;

    // Taylor coefficients (-1)^k / (2k+1)! and (-1)^k / (2k)!, and 2 / (2k+1) for log: each one correctly rounded division.
    private static readonly double[] SinCoef = new double[9];
    private static readonly double[] CosCoef = new double[10];
    private static readonly double[] LogCoef = new double[11];

    static DeterministicMath()
    {
        var piO2 = PiFixed >> 1; // pi/2 * 2^PiFracBits
        var parts = SplitFixed(piO2, PiFracBits, new[] { 33, 33, 33, 53 });
        (PiO2P1, PiO2P2, PiO2P3, PiO2P4) = (parts[0], parts[1], parts[2], parts[3]);
        TwoPi = SplitFixed(PiFixed << 1, PiFracBits, new[] { 53 }, round: true)[0];
        TwoOverPi = SplitFixed(TwoOverPiFixed, TwoOverPiBits, new[] { 53 }, round: true)[0];
        var ln2 = SplitFixed(ComputeLn2Fixed(), PiFracBits, new[] { 42, 53 });
        (Ln2Hi, Ln2Lo) = (ln2[0], ln2[1]);

        double fact = 1; // exact up to 18! < 2^53
        for (int n = 1; n <= 18; n++)
        {
            fact *= n;
            if (n % 2 == 1) SinCoef[n / 2] = (n / 2 % 2 == 0 ? 1.0 : -1.0) / fact;
            else CosCoef[n / 2] = (n / 2 % 2 == 0 ? 1.0 : -1.0) / fact;
        }
        CosCoef[0] = 1;
        for (int k = 0; k < LogCoef.Length; k++) LogCoef[k] = 2.0 / (2 * k + 1);
    }

    private static BigInteger ComputePiFixed()
    {
        const int guard = 64;
        var one = BigInteger.One << (PiFracBits + guard);
        var pi = 16 * AtanInv(5, one) - 4 * AtanInv(239, one);
        return pi >> guard;
    }

    /// <summary>atan(1/x) * one by its alternating series.</summary>
    private static BigInteger AtanInv(int x, BigInteger one)
    {
        BigInteger x2 = x * x, term = one / x, sum = term;
        for (int k = 1; !term.IsZero; k++)
        {
            term /= x2;
            var t = term / (2 * k + 1);
            sum = k % 2 == 1 ? sum - t : sum + t;
        }
        return sum;
    }

    /// <summary>ln 2 * 2^PiFracBits from ln 2 = 2 atanh(1/3) = 2 sum 3^-(2k+1) / (2k+1).</summary>
    private static BigInteger ComputeLn2Fixed()
    {
        const int guard = 64;
        var one = BigInteger.One << (PiFracBits + guard);
        BigInteger term = one / 3, sum = term;
        for (int k = 1; !term.IsZero; k++)
        {
            term /= 9;
            sum += term / (2 * k + 1);
        }
        return (2 * sum) >> guard;
    }

    /// <summary>
    /// Splits a positive fixed-point value (<paramref name="fracBits"/> fraction bits) into doubles holding the given
    /// numbers of significant bits each: the leading ones truncated, the last one rounded to nearest when asked.
    /// </summary>
    private static double[] SplitFixed(BigInteger value, int fracBits, int[] bits, bool round = false)
    {
        var result = new double[bits.Length];
        var rest = value;
        for (int i = 0; i < bits.Length; i++)
        {
            long top = (long)rest.GetBitLength() - bits[i];
            BigInteger chunk = top > 0 ? rest >> (int)top : rest << (int)-top;
            if (round && i == bits.Length - 1 && top > 0 && !((rest >> (int)(top - 1)) & 1).IsZero) chunk += 1;
            result[i] = Pow2((int)(top - fracBits)) * (double)(long)chunk; // chunk < 2^53: exact
            rest = top > 0 ? rest - (chunk << (int)top) : BigInteger.Zero;
        }
        return result;
    }

    /// <summary>2^e as a double built from its bits (normal range only).</summary>
    private static double Pow2(int e)
    {
        if (e < -1022 || e > 1023) throw new ArgumentOutOfRangeException(nameof(e), $"Pow2: exponent {e} is outside the normal range.");
        return BitConverter.Int64BitsToDouble((long)(e + 1023) << 52);
    }

    // ---------------------------------------------------------------- log

    /// <summary>Natural logarithm; Log(0) = -inf, Log(x &lt; 0) = NaN, Log(+inf) = +inf.</summary>
    public static double Log(double x)
    {
        if (double.IsNaN(x) || x < 0) return double.NaN;
        if (x == 0) return double.NegativeInfinity;
        if (double.IsPositiveInfinity(x)) return x;

        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)(bits >> 52) - 1023;
        if (e == -1023) // subnormal: scale by 2^54 (exact) and renormalise
        {
            bits = BitConverter.DoubleToInt64Bits(x * 18014398509481984.0);
            e = (int)(bits >> 52) - 1023 - 54;
        }
        long mantBits = bits & 0x000FFFFFFFFFFFFFL;
        // m in [1, 2); move it to [sqrt(1/2), sqrt(2)) so that |s| below stays <= 0.1716.
        const long sqrt2Mant = 0x6A09E667F3BCDL; // mantissa bits of sqrt(2)'s double, within 1 ulp of the boundary
        if (mantBits > sqrt2Mant) { e++; mantBits |= 1022L << 52; }
        else mantBits |= 1023L << 52;
        double m = BitConverter.Int64BitsToDouble(mantBits);

        // log m = 2 atanh(s), s = (m - 1) / (m + 1): 2 (s + s^3/3 + s^5/5 + ...)
        double f = m - 1; // exact (Sterbenz)
        double s = f / (m + 1);
        double s2 = s * s;
        double p = LogCoef[^1];
        for (int k = LogCoef.Length - 2; k >= 1; k--) p = p * s2 + LogCoef[k];
        double logM = 2 * s + s * (s2 * p);
        return e * Ln2Hi + (logM + e * Ln2Lo);
    }

    // ---------------------------------------------------------------- sin / cos

    /// <summary>Sine of <paramref name="x"/> radians; NaN for NaN or infinite input.</summary>
    public static double Sin(double x) => SinCos(x).Sin;

    /// <summary>Cosine of <paramref name="x"/> radians; NaN for NaN or infinite input.</summary>
    public static double Cos(double x) => SinCos(x).Cos;

    /// <summary>Sine and cosine from one argument reduction.</summary>
    public static (double Sin, double Cos) SinCos(double x)
    {
        if (!double.IsFinite(x)) return (double.NaN, double.NaN);
        if (x == 0) return (x, 1.0); // keeps the sign of -0
        var (q, hi, lo) = Reduce(x);
        double s = SinKernel(hi, lo), c = CosKernel(hi, lo);
        return (q & 3) switch
        {
            0 => (s, c),
            1 => (c, -s),
            2 => (-s, -c),
            _ => (-c, s),
        };
    }

    /// <summary>
    /// cos(2 pi * bits / 2^32), with the reduction done exactly on the integer: the octant comes from the top three bits
    /// and the remainder maps to an angle in [0, pi/4] with a single rounding.
    /// </summary>
    internal static double CosTurns(uint bits)
    {
        uint octant = bits >> 29, low = bits & 0x1FFFFFFFu;
        bool odd = (octant & 1) != 0;
        double r = (odd ? (1u << 29) - low : low) * (TwoPi * 2.3283064365386963e-10); // 2pi * 2^-32 (exact scaling)
        uint q = (octant >> 1) + (odd ? 1u : 0u);
        // even octant: theta = q pi/2 + r; odd octant: theta = q pi/2 - r (q already bumped by one).
        return (q & 3) switch
        {
            0 => CosKernel(r, 0),
            1 => odd ? SinKernel(r, 0) : -SinKernel(r, 0),
            2 => -CosKernel(r, 0),
            _ => odd ? -SinKernel(r, 0) : SinKernel(r, 0),
        };
    }

    /// <summary>x = q pi/2 + (hi + lo) with |hi + lo| &lt;= about pi/4; hi + lo good to ~2^-100 absolute.</summary>
    private static (int Q, double Hi, double Lo) Reduce(double x)
    {
        double ax = Math.Abs(x);
        if (ax <= 0.78539816339744828) return (0, x, 0);
        if (ax < MediumLimit)
        {
            double k = Math.Round(x * TwoOverPi, MidpointRounding.ToEven);
            // Each k * Pi is exact (k < 2^20, Pi <= 33 bits); x - k P1 is exact (Sterbenz); the rest is summed as double-double.
            double t = x - k * PiO2P1;
            var (hi, lo) = TwoSum(t, -(k * PiO2P2));
            double e1;
            (hi, e1) = TwoSum(hi, -(k * PiO2P3));
            lo += e1 - k * PiO2P4;
            (hi, lo) = FastTwoSum(hi, lo);
            return ((int)((long)k & 3), hi, lo);
        }
        return ReduceLarge(x);
    }

    /// <summary>Payne–Hanek style reduction in exact big-integer fixed point, for |x| &gt;= MediumLimit.</summary>
    private static (int Q, double Hi, double Lo) ReduceLarge(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int e = (int)((bits >> 52) & 0x7FF) - 1075; // x = m * 2^e, m a 53-bit integer (x is normal here)
        long m = (bits & 0x000FFFFFFFFFFFFFL) | (1L << 52);
        // y = |x| * 2/pi in fixed point with F = TwoOverPiBits - e fraction bits (F >= 229 because e <= 971).
        int fracBits = TwoOverPiBits - e;
        BigInteger y = m * TwoOverPiFixed;
        BigInteger one = BigInteger.One << fracBits;
        BigInteger kBig = (y + (one >> 1)) >> fracBits; // nearest integer
        BigInteger frac = y - (kBig << fracBits);         // in [-1/2, 1/2] * 2^F
        int q = (int)(kBig & 3);
        bool neg = frac.Sign < 0;
        if (neg) frac = -frac;
        // r = frac * pi/2, as a fixed-point number with fracBits + PiFracBits fraction bits.
        BigInteger r = frac * (PiFixed >> 1);
        int totalFrac = fracBits + PiFracBits;
        double hi = 0, lo = 0;
        if (!r.IsZero)
        {
            var parts = SplitFixed(r, totalFrac, new[] { 53, 53 });
            (hi, lo) = FastTwoSum(parts[0], parts[1]);
        }
        if (neg) { hi = -hi; lo = -lo; }
        if (x < 0) { hi = -hi; lo = -lo; q = -q; }
        return (q & 3, hi, lo);
    }

    /// <summary>sin(hi + lo) for |hi| &lt;= ~pi/4, |lo| tiny: Taylor series to degree 17 plus a first-order correction for lo.</summary>
    private static double SinKernel(double hi, double lo)
    {
        double x2 = hi * hi;
        double p = SinCoef[^1];
        for (int k = SinCoef.Length - 2; k >= 1; k--) p = p * x2 + SinCoef[k];
        return hi + (hi * (x2 * p) + lo * (1 - 0.5 * x2));
    }

    /// <summary>cos(hi + lo) for |hi| &lt;= ~pi/4: Taylor series to degree 18, minus lo * sin(hi) ~ lo * hi.</summary>
    private static double CosKernel(double hi, double lo)
    {
        double x2 = hi * hi;
        double p = CosCoef[^1];
        for (int k = CosCoef.Length - 2; k >= 2; k--) p = p * x2 + CosCoef[k];
        // 1 - x2/2 + x2^2 p: compute 1 - x2/2 with its rounding error recovered, since it dominates.
        double h = 0.5 * x2;
        double w = 1 - h;
        double tail = ((1 - w) - h) + (x2 * x2 * p - hi * lo);
        return w + tail;
    }

    private static (double S, double E) TwoSum(double a, double b)
    {
        double s = a + b;
        double bb = s - a;
        double e = (a - (s - bb)) + (b - bb);
        return (s, e);
    }

    private static (double S, double E) FastTwoSum(double a, double b)
    {
        double s = a + b;
        return (s, b - (s - a));
    }
}
