using System.Numerics.Tensors;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Fused LayerNorm and RMSNorm over rows of length n: one SIMD pass per statistic, rows split over threads. Forward
/// optionally saves the per-row mean and reciprocal standard deviation (rstd) that the fused backward reuses.
/// Empty spans mean "absent" throughout: no affine weight/bias, no saved statistics, a gradient not wanted.
/// Weight and bias gradients are summed over rows in per-chunk partials, added in chunk order (deterministic for a
/// given thread count). The *Scalar methods are the per-element twins used by the parity tests.
/// </summary>
public static unsafe class NormKernels
{
    private const int ParallelWork = 1 << 14;

    /// <summary>
    /// y = (x - mean) * rstd * weight + bias per row (LayerNorm) or y = x * rstd * weight (RMSNorm, <paramref name="rms"/>),
    /// rstd = 1 / sqrt(var + eps) or 1 / sqrt(mean(x^2) + eps). Saves mean (LayerNorm only) and rstd when given room.
    /// </summary>
    public static void Forward(bool rms, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        Span<float> mean, Span<float> rstd, int rows, int n, float eps)
    {
        Check(x.Length, y.Length, weight.Length, bias.Length, rows, n, "NormKernels.Forward");
        if (rows == 0 || n == 0) return;
        bool hasW = weight.Length > 0, hasB = bias.Length > 0, saveMean = mean.Length > 0, saveRstd = rstd.Length > 0;
        fixed (float* px = x, pw = weight, pb = bias, py = y, pm = mean, pr = rstd)
        {
            float* xp = px, wp = pw, bp = pb, yp = py, mp = pm, rp = pr;
            Parallelism.For(rows, Math.Max(1, ParallelWork / n), (s, e) =>
            {
                var w = new ReadOnlySpan<float>(wp, hasW ? n : 0);
                var b = new ReadOnlySpan<float>(bp, hasB ? n : 0);
                for (int r = s; r < e; r++)
                {
                    var xr = new ReadOnlySpan<float>(xp + (long)r * n, n);
                    var yr = new Span<float>(yp + (long)r * n, n);
                    float mu = 0f, rs;
                    if (rms)
                    {
                        rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xr) / n + eps);
                        TensorPrimitives.Multiply(xr, rs, yr);
                    }
                    else
                    {
                        mu = TensorPrimitives.Sum(xr) / n;
                        TensorPrimitives.Subtract(xr, mu, yr);
                        rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(yr) / n + eps);
                        TensorPrimitives.Multiply(yr, rs, yr);
                    }
                    if (hasW && hasB) TensorPrimitives.MultiplyAdd(yr, w, b, yr);
                    else if (hasW) TensorPrimitives.Multiply(yr, w, yr);
                    else if (hasB) TensorPrimitives.Add(yr, b, yr);
                    if (saveMean) mp[r] = mu;
                    if (saveRstd) rp[r] = rs;
                }
            });
        }
    }

    /// <summary>
    /// Gradients of <see cref="Forward"/> from the saved statistics. With xhat the normalised row and gw = g * weight:
    /// LayerNorm dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)); RMSNorm dx = rstd * (gw - xhat * mean(gw * xhat));
    /// dweight = sum over rows of g * xhat; dbias = sum over rows of g. Outputs given as empty spans are skipped.
    /// </summary>
    public static void Backward(bool rms, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd,
        ReadOnlySpan<float> g, Span<float> dx, Span<float> dweight, Span<float> dbias, int rows, int n)
    {
        if (x.Length < (long)rows * n || g.Length < (long)rows * n || rstd.Length < rows || (!rms && mean.Length < rows)
            || (dx.Length > 0 && dx.Length < (long)rows * n) || (weight.Length > 0 && weight.Length != n)
            || (dweight.Length > 0 && dweight.Length != n) || (dbias.Length > 0 && dbias.Length != n))
            throw new ArgumentException($"NormKernels.Backward: buffers do not match {rows} rows of {n}.");
        bool hasW = weight.Length > 0, wantDx = dx.Length > 0, wantDw = dweight.Length > 0, wantDb = dbias.Length > 0;
        dweight.Clear();
        dbias.Clear();
        if (rows == 0 || n == 0) return;
        var partials = new List<(int Start, float[] Dw, float[] Db)>();
        fixed (float* px = x, pw = weight, pm = mean, pr = rstd, pg = g, pd = dx)
        {
            float* xp = px, wp = pw, mp = pm, rp = pr, gp = pg, dp = pd;
            Parallelism.For(rows, Math.Max(1, ParallelWork / n), (s, e) =>
            {
                var w = new ReadOnlySpan<float>(wp, hasW ? n : 0);
                var xhat = new float[n];
                var gw = hasW ? new float[n] : null;
                var dw = wantDw ? new float[n] : null;
                var db = wantDb ? new float[n] : null;
                for (int r = s; r < e; r++)
                {
                    var xr = new ReadOnlySpan<float>(xp + (long)r * n, n);
                    var gr = new ReadOnlySpan<float>(gp + (long)r * n, n);
                    float rs = rp[r];
                    if (rms) TensorPrimitives.Multiply(xr, rs, xhat);
                    else
                    {
                        TensorPrimitives.Subtract(xr, mp[r], xhat);
                        TensorPrimitives.Multiply(xhat, rs, xhat);
                    }
                    if (dw is not null) TensorPrimitives.MultiplyAdd(gr, xhat, dw, dw);
                    if (db is not null) TensorPrimitives.Add(db, gr, db);
                    if (!wantDx) continue;
                    ReadOnlySpan<float> gwr = gr;
                    if (gw is not null) { TensorPrimitives.Multiply(gr, w, gw); gwr = gw; }
                    float c1 = TensorPrimitives.Dot(gwr, xhat) / n;
                    var dr = new Span<float>(dp + (long)r * n, n);
                    TensorPrimitives.MultiplyAdd(xhat, -c1, gwr, dr);
                    if (!rms) TensorPrimitives.Subtract(dr, TensorPrimitives.Sum(gwr) / n, dr);
                    TensorPrimitives.Multiply(dr, rs, dr);
                }
                if (dw is not null || db is not null)
                    lock (partials) partials.Add((s, dw ?? Array.Empty<float>(), db ?? Array.Empty<float>()));
            });
        }
        partials.Sort((a, b) => a.Start.CompareTo(b.Start));
        foreach (var p in partials)
        {
            if (wantDw) TensorPrimitives.Add(dweight, p.Dw, dweight);
            if (wantDb) TensorPrimitives.Add(dbias, p.Db, dbias);
        }
    }

    /// <summary>Plain per-element twin of <see cref="Forward"/> (statistics accumulated in double).</summary>
    public static void ForwardScalar(bool rms, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        Span<float> mean, Span<float> rstd, int rows, int n, float eps)
    {
        Check(x.Length, y.Length, weight.Length, bias.Length, rows, n, "NormKernels.ForwardScalar");
        for (int r = 0; r < rows; r++)
        {
            int o = r * n;
            double mu = 0, v = 0;
            if (!rms)
            {
                for (int i = 0; i < n; i++) mu += x[o + i];
                mu /= n;
            }
            for (int i = 0; i < n; i++) v += (x[o + i] - mu) * (x[o + i] - mu);
            double rs = 1.0 / Math.Sqrt(v / n + eps);
            for (int i = 0; i < n; i++)
            {
                double t = (x[o + i] - mu) * rs;
                if (weight.Length > 0) t *= weight[i];
                if (bias.Length > 0) t += bias[i];
                y[o + i] = (float)t;
            }
            if (mean.Length > 0) mean[r] = (float)mu;
            if (rstd.Length > 0) rstd[r] = (float)rs;
        }
    }

    /// <summary>Plain per-element twin of <see cref="Backward"/>.</summary>
    public static void BackwardScalar(bool rms, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd,
        ReadOnlySpan<float> g, Span<float> dx, Span<float> dweight, Span<float> dbias, int rows, int n)
    {
        var dw = new double[n];
        var db = new double[n];
        for (int r = 0; r < rows; r++)
        {
            int o = r * n;
            double mu = rms ? 0 : mean[r], rs = rstd[r], sg = 0, sgx = 0;
            for (int i = 0; i < n; i++)
            {
                double xh = (x[o + i] - mu) * rs, gw = g[o + i] * (weight.Length > 0 ? weight[i] : 1f);
                sg += gw;
                sgx += gw * xh;
                dw[i] += g[o + i] * xh;
                db[i] += g[o + i];
            }
            if (dx.Length == 0) continue;
            for (int i = 0; i < n; i++)
            {
                double xh = (x[o + i] - mu) * rs, gw = g[o + i] * (weight.Length > 0 ? weight[i] : 1f);
                dx[o + i] = (float)(rs * (gw - (rms ? 0 : sg / n) - xh * sgx / n));
            }
        }
        for (int i = 0; i < dweight.Length; i++) dweight[i] = (float)dw[i];
        for (int i = 0; i < dbias.Length; i++) dbias[i] = (float)db[i];
    }

    private static void Check(int xLen, int yLen, int wLen, int bLen, int rows, int n, string op)
    {
        long total = (long)rows * n;
        if (rows < 0 || n < 0 || xLen < total || yLen < total || (wLen > 0 && wLen != n) || (bLen > 0 && bLen != n))
            throw new ArgumentException($"{op}: {rows} rows of {n} need input/output of {total} and weight/bias of {n} (or none); got {xLen}, {yLen}, {wLen}, {bLen}.");
    }
}
