namespace FlowGuide.Cli.Eval;

/// <summary>A sample mean with its two-sided 95% Student-t confidence interval.</summary>
/// <param name="N">Finite values used (NaN values are skipped).</param>
/// <param name="Mean">Their mean (NaN when N = 0).</param>
/// <param name="Sd">Sample standard deviation (n - 1 denominator; NaN when N &lt; 2).</param>
/// <param name="Low">Mean - t(0.975, N - 1) Sd / sqrt(N) (NaN when N &lt; 2).</param>
/// <param name="High">Mean + the same half-width.</param>
public readonly record struct MeanInterval(int N, double Mean, double Sd, double Low, double High)
{
    /// <summary>Half the interval's width.</summary>
    public double HalfWidth => (High - Low) / 2;

    /// <summary>Whether the interval lies entirely above (+1) or below (-1) zero, else 0.</summary>
    public int SignExcludingZero => Low > 0 ? 1 : High < 0 ? -1 : 0;

    /// <summary>The mean and 95% t-interval of the finite values of <paramref name="values"/>.</summary>
    public static MeanInterval Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        int n = v.Length;
        if (n == 0) return new MeanInterval(0, double.NaN, double.NaN, double.NaN, double.NaN);
        double mean = v.Average();
        if (n < 2) return new MeanInterval(1, mean, double.NaN, double.NaN, double.NaN);
        double sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (n - 1));
        double half = StudentT.Quantile(0.975, n - 1) * sd / Math.Sqrt(n);
        return new MeanInterval(n, mean, sd, mean - half, mean + half);
    }
}

/// <summary>The Student t distribution's CDF and quantile, from the regularized incomplete beta function.</summary>
public static class StudentT
{
    /// <summary>P(T &lt;= t) for <paramref name="df"/> degrees of freedom.</summary>
    public static double Cdf(double t, double df)
    {
        if (!(df > 0)) throw new ArgumentException($"StudentT.Cdf: degrees of freedom {df} must be positive.");
        if (double.IsNaN(t)) return double.NaN;
        if (double.IsInfinity(t)) return t > 0 ? 1 : 0;
        double x = df / (df + t * t);
        double tail = 0.5 * RegularizedBeta(df / 2, 0.5, x); // P(T > |t|)
        return t >= 0 ? 1 - tail : tail;
    }

    /// <summary>The t with P(T &lt;= t) = <paramref name="p"/> (0 &lt; p &lt; 1), by bisection on <see cref="Cdf"/> to 1e-12.</summary>
    public static double Quantile(double p, double df)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentException($"StudentT.Quantile: probability {p} must lie in (0, 1).");
        if (!(df > 0)) throw new ArgumentException($"StudentT.Quantile: degrees of freedom {df} must be positive.");
        if (p == 0.5) return 0;
        if (p < 0.5) return -Quantile(1 - p, df);
        double lo = 0, hi = 1;
        while (Cdf(hi, df) < p) { lo = hi; hi *= 2; }
        for (int i = 0; i < 200 && hi - lo > 1e-12 * Math.Max(1, hi); i++)
        {
            double mid = (lo + hi) / 2;
            if (Cdf(mid, df) < p) lo = mid; else hi = mid;
        }
        return (lo + hi) / 2;
    }

    /// <summary>I_x(a, b), the regularized incomplete beta function, by its continued fraction (modified Lentz).</summary>
    internal static double RegularizedBeta(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        double lnFront = LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x);
        // the continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise
        if (x > (a + 1) / (a + b + 2)) return 1 - RegularizedBeta(b, a, 1 - x);
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        double f = d;
        for (int m = 1; m <= 300; m++)
        {
            // even step
            double num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + num * d; if (Math.Abs(d) < tiny) d = tiny; d = 1 / d;
            c = 1 + num / c; if (Math.Abs(c) < tiny) c = tiny;
            f *= d * c;
            // odd step
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + num * d; if (Math.Abs(d) < tiny) d = tiny; d = 1 / d;
            c = 1 + num / c; if (Math.Abs(c) < tiny) c = tiny;
            double delta = d * c;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return Math.Exp(lnFront) * f / a;
    }

    /// <summary>ln Gamma(x) for x &gt; 0 (Lanczos approximation, g = 7, 9 terms; relative error about 1e-15).</summary>
    internal static double LogGamma(double x)
    {
        ReadOnlySpan<double> c = stackalloc double[]
        {
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        };
        if (x < 0.5) return Math.Log(Math.PI / Math.Sin(Math.PI * x)) - LogGamma(1 - x);
        x -= 1;
        double s = c[0];
        for (int i = 1; i < 9; i++) s += c[i] / (x + i);
        double t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(s);
    }
}
