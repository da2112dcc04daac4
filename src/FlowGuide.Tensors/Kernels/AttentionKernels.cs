using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace FlowGuide.Tensors.Kernels;

/// <summary>
/// Flash attention on the CPU: softmax(scale * Q K^T) V without ever holding more than one
/// <see cref="BlockQ"/> x <see cref="BlockK"/> tile of scores per thread, forward and backward.
/// Layout: q [batch, lq, d], k [batch, lk, d], v [batch, lk, dv], o [batch, lq, dv], batch = B * heads, all contiguous;
/// lse [batch * lq] is the per-row log-sum-exp of the scaled scores that the backward pass recomputes P from.
/// K (and V in backward) are transposed once per call into contiguous [d, BlockK] panels, one per key block, so every
/// tile product is a row-major <see cref="BlockGemm"/> streaming through contiguous memory.
/// Forward: threads take (head, query block) items; an online softmax (running max and sum, rescaled accumulator)
/// walks the key blocks. Backward (FlashAttention-2): threads own (head, key range) items, so dK and dV are written
/// without sharing; dQ is accumulated per key range and the ranges (at most the thread count) are summed at the end.
/// <see cref="ForwardScalar"/> and <see cref="BackwardScalar"/> are the row-at-a-time twins for the parity tests.
/// </summary>
public static unsafe class AttentionKernels
{
    /// <summary>Query rows per tile.</summary>
    public static int BlockQ { get; set; } = 64;

    /// <summary>Key rows per tile.</summary>
    public static int BlockK { get; set; } = 128;

    /// <summary>o = softmax(scale * q k^T) v per batch entry; fills lse when it is not empty.</summary>
    public static void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Span<float> lse,
        int batch, int lq, int lk, int d, int dv, float scale)
    {
        Check(q.Length, k.Length, v.Length, o.Length, batch, lq, lk, d, dv, "AttentionKernels.Forward");
        if (lse.Length > 0 && lse.Length < (long)batch * lq) throw new ArgumentException($"AttentionKernels.Forward: lse has {lse.Length} elements, expected {(long)batch * lq}.");
        if ((long)batch * lq * dv == 0) return;
        int bq = BlockQ, bk = BlockK;
        bool saveLse = lse.Length > 0;
        int nkb = (lk + bk - 1) / bk;
        var kt = BufferPool.Rent(batch * nkb * d * bk, false);
        try
        {
            fixed (float* pq = q, pk = k, pv = v, po = o, pl = lse, pkt = kt)
            {
                float* qp = pq, vp = pv, op = po, lp = pl, ktp = pkt;
                PackTransposed(pk, pkt, batch, lk, d, bk);
                int nqb = (lq + bq - 1) / bq;
                Parallelism.For(batch * nqb, 1, (s, e) =>
                {
                    var scratch = GC.AllocateUninitializedArray<float>(bq * bk + bq * dv + 2 * bq);
                    fixed (float* sp = scratch)
                    {
                        float* sc = sp, acc = sp + bq * bk, mrow = acc + bq * dv, lrow = mrow + bq;
                        for (int item = s; item < e; item++)
                        {
                            int bh = item / nqb, q0 = item % nqb * bq, mq = Math.Min(bq, lq - q0);
                            ForwardBlock(qp + ((long)bh * lq + q0) * d, ktp + (long)bh * nkb * d * bk, vp + (long)bh * lk * dv,
                                op + ((long)bh * lq + q0) * dv, saveLse ? lp + (long)bh * lq + q0 : null,
                                sc, acc, mrow, lrow, mq, lk, d, dv, bk, scale);
                        }
                    }
                });
            }
        }
        finally
        {
            BufferPool.Return(kt, true);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardBlock(float* q, float* kt, float* v, float* o, float* lse, float* sc, float* acc, float* mrow, float* lrow,
        int mq, int lk, int d, int dv, int bk, float scale)
    {
        for (int k0 = 0; k0 < lk; k0 += bk)
        {
            int nk = Math.Min(bk, lk - k0);
            BlockGemm.Run(q, d, false, kt + (long)k0 * d, bk, sc, nk, mq, nk, d, scale, false);
            for (int r = 0; r < mq; r++)
            {
                float mNew = TensorPrimitives.Max(new ReadOnlySpan<float>(sc + r * nk, nk));
                if (k0 > 0) mNew = Math.Max(mNew, mrow[r]);
                float sum = FastExp.ExpShiftSum(sc + r * nk, nk, mNew);
                if (k0 == 0) lrow[r] = sum;
                else
                {
                    float corr = MathF.Exp(mrow[r] - mNew);
                    lrow[r] = lrow[r] * corr + sum;
                    if (corr != 1f)
                    {
                        var ar = new Span<float>(acc + (long)r * dv, dv);
                        TensorPrimitives.Multiply(ar, corr, ar);
                    }
                }
                mrow[r] = mNew;
            }
            BlockGemm.Run(sc, nk, false, v + (long)k0 * dv, dv, acc, dv, mq, dv, nk, 1f, k0 > 0);
        }
        for (int r = 0; r < mq; r++)
        {
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(acc + (long)r * dv, dv), 1f / lrow[r], new Span<float>(o + (long)r * dv, dv));
            if (lse != null) lse[r] = mrow[r] + MathF.Log(lrow[r]);
        }
    }

    /// <summary>
    /// Gradients of <see cref="Forward"/> given its output <paramref name="o"/>, its lse and the output gradient
    /// <paramref name="dO"/>. Any of dq, dk, dv may be empty to skip it (and the tile products only it needs).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> o, ReadOnlySpan<float> lse,
        ReadOnlySpan<float> dO, Span<float> dq, Span<float> dk, Span<float> dvOut, int batch, int lq, int lk, int d, int dv, float scale)
    {
        Check(q.Length, k.Length, v.Length, o.Length, batch, lq, lk, d, dv, "AttentionKernels.Backward");
        long nq = (long)batch * lq;
        if (lse.Length < nq || dO.Length < nq * dv || (dq.Length > 0 && dq.Length < nq * d)
            || (dk.Length > 0 && dk.Length < (long)batch * lk * d) || (dvOut.Length > 0 && dvOut.Length < (long)batch * lk * dv))
            throw new ArgumentException("AttentionKernels.Backward: lse, dO or a gradient buffer does not match the shapes.");
        bool wantQ = dq.Length > 0, wantK = dk.Length > 0, wantV = dvOut.Length > 0, wantS = wantQ || wantK;
        dq.Clear();
        if (lq == 0) { dk.Clear(); dvOut.Clear(); }
        if (batch == 0 || lq == 0 || lk == 0 || !(wantQ || wantK || wantV)) return;

        int bq = BlockQ, bk = BlockK, threads = Math.Max(1, Parallelism.NumThreads);
        int nkb = (lk + bk - 1) / bk;
        long panels = (long)batch * nkb * bk;
        // Key ranges per head: enough (head, range) items to give every thread the same number.
        int ranges = Math.Min(nkb, threads / Gcd(batch, threads));
        if (!wantQ) ranges = Math.Min(nkb, Math.Max(1, (threads + batch - 1) / batch));
        var kt = BufferPool.Rent((int)(panels * d), false);
        var vt = wantS ? BufferPool.Rent((int)(panels * dv), false) : Array.Empty<float>();
        var delta = BufferPool.Rent((int)nq, false);
        var dqPart = wantQ && ranges > 1 ? BufferPool.Rent((int)((ranges - 1) * nq * d), true) : Array.Empty<float>();
        try
        {
            fixed (float* pq = q, pk = k, pv = v, po = o, pl = lse, pg = dO, pdq = dq, pdk = dk, pdv = dvOut,
                   pkt = kt, pvt = vt, pdelta = delta, ppart = dqPart)
            {
                float* qp = pq, kp = pk, lp = pl, gp = pg, dqp = pdq, dkp = pdk, dvp = pdv, ktp = pkt, vtp = pvt, dp = pdelta, partp = ppart, op = po;
                PackTransposed(pk, pkt, batch, lk, d, bk);
                if (wantS) PackTransposed(pv, pvt, batch, lk, dv, bk);
                // D_i = rowsum(dO_i * O_i): the softmax backward's per-row constant.
                Parallelism.For((int)nq, 256, (s, e) =>
                {
                    for (int i = s; i < e; i++)
                        dp[i] = TensorPrimitives.Dot(new ReadOnlySpan<float>(gp + (long)i * dv, dv), new ReadOnlySpan<float>(op + (long)i * dv, dv));
                });
                Parallelism.For(batch * ranges, 1, (s, e) =>
                {
                    var scratch = GC.AllocateUninitializedArray<float>(2 * bq * bk);
                    fixed (float* sp = scratch)
                    {
                        for (int item = s; item < e; item++)
                        {
                            int bh = item / ranges, r = item % ranges;
                            int kb0 = (int)((long)nkb * r / ranges), kb1 = (int)((long)nkb * (r + 1) / ranges);
                            float* dqTarget = !wantQ ? null : r == 0 ? dqp + (long)bh * lq * d : partp + ((r - 1) * nq + (long)bh * lq) * d;
                            for (int kb = kb0; kb < kb1; kb++)
                            {
                                int k0 = kb * bk, nk = Math.Min(bk, lk - k0);
                                BackwardBlock(qp + (long)bh * lq * d, ktp + ((long)bh * nkb + kb) * d * bk, kp + ((long)bh * lk + k0) * d,
                                    vtp + ((long)bh * nkb + kb) * dv * bk, gp + (long)bh * lq * dv, lp + (long)bh * lq, dp + (long)bh * lq,
                                    dqTarget, wantK ? dkp + ((long)bh * lk + k0) * d : null, wantV ? dvp + ((long)bh * lk + k0) * dv : null,
                                    sp, sp + bq * bk, lq, bk, nk, d, dv, bq, scale);
                            }
                        }
                    }
                });
                if (dqPart.Length > 0)
                {
                    Parallelism.For((int)nq, 256, (s, e) =>
                    {
                        var dst = new Span<float>(dqp + (long)s * d, (e - s) * d);
                        for (int r = 1; r < ranges; r++)
                            TensorPrimitives.Add(dst, new ReadOnlySpan<float>(partp + ((r - 1) * nq + s) * d, (e - s) * d), dst);
                    });
                }
            }
        }
        finally
        {
            BufferPool.Return(kt, true);
            if (vt.Length > 0) BufferPool.Return(vt, true);
            BufferPool.Return(delta, true);
            if (dqPart.Length > 0) BufferPool.Return(dqPart, true);
        }
    }

    /// <summary>One key block against every query block of one head (pointers are already offset to the head / key block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardBlock(float* q, float* kt, float* kBlock, float* vt, float* dO, float* lse, float* delta,
        float* dq, float* dk, float* dv, float* p, float* ds, int lq, int ldt, int nk, int d, int dvDim, int bq, float scale)
    {
        bool wantS = dq != null || dk != null;
        for (int q0 = 0; q0 < lq; q0 += bq)
        {
            int mq = Math.Min(bq, lq - q0);
            float* qb = q + (long)q0 * d, gb = dO + (long)q0 * dvDim;
            // P = exp(scale * Q K^T - lse)
            BlockGemm.Run(qb, d, false, kt, ldt, p, nk, mq, nk, d, scale, false);
            for (int r = 0; r < mq; r++) FastExp.ExpShift(p + r * nk, nk, lse[q0 + r]);
            // dV += P^T dO
            if (dv != null) BlockGemm.Run(p, nk, true, gb, dvDim, dv, dvDim, nk, dvDim, mq, 1f, q0 > 0);
            if (!wantS) continue;
            // dS = P * (dO V^T - D)
            BlockGemm.Run(gb, dvDim, false, vt, ldt, ds, nk, mq, nk, dvDim, 1f, false);
            for (int r = 0; r < mq; r++) FastExp.ShiftMul(ds + r * nk, p + r * nk, nk, delta[q0 + r]);
            // dQ += scale dS K;  dK += scale dS^T Q
            if (dq != null) BlockGemm.Run(ds, nk, false, kBlock, d, dq + (long)q0 * d, d, mq, d, nk, scale, true);
            if (dk != null) BlockGemm.Run(ds, nk, true, qb, d, dk, d, nk, d, mq, scale, q0 > 0);
        }
    }

    /// <summary>
    /// Transposes each [rows, cols] batch entry into panels of <paramref name="block"/> rows: panel kb of entry b holds
    /// dst[((b * blocks + kb) * cols + c) * block + j] = src[b, kb * block + j, c] (the last panel is partly filled).
    /// </summary>
    private static void PackTransposed(float* src, float* dst, int batch, int rows, int cols, int block)
    {
        int blocks = (rows + block - 1) / block;
        Parallelism.For(batch * blocks, 4, (s, e) =>
        {
            for (int item = s; item < e; item++)
            {
                int b = item / blocks, r0 = item % blocks * block, n = Math.Min(block, rows - r0);
                float* sb = src + ((long)b * rows + r0) * cols, db = dst + (long)item * cols * block;
                for (int j = 0; j < n; j++)
                    for (int c = 0; c < cols; c++)
                        db[(long)c * block + j] = sb[(long)j * cols + c];
            }
        });
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }

    /// <summary>Row-at-a-time twin of <see cref="Forward"/>: full score rows, two-pass softmax in double.</summary>
    public static void ForwardScalar(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Span<float> lse,
        int batch, int lq, int lk, int d, int dv, float scale)
    {
        Check(q.Length, k.Length, v.Length, o.Length, batch, lq, lk, d, dv, "AttentionKernels.ForwardScalar");
        var s = new double[lk];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < lq; i++)
            {
                int qi = (b * lq + i) * d;
                double max = double.NegativeInfinity, sum = 0;
                for (int j = 0; j < lk; j++)
                {
                    double dot = 0;
                    int kj = (b * lk + j) * d;
                    for (int c = 0; c < d; c++) dot += q[qi + c] * k[kj + c];
                    s[j] = scale * dot;
                    max = Math.Max(max, s[j]);
                }
                for (int j = 0; j < lk; j++) sum += s[j] = Math.Exp(s[j] - max);
                for (int c = 0; c < dv; c++)
                {
                    double acc = 0;
                    for (int j = 0; j < lk; j++) acc += s[j] * v[(b * lk + j) * dv + c];
                    o[(b * lq + i) * dv + c] = (float)(acc / sum);
                }
                if (lse.Length > 0) lse[b * lq + i] = (float)(max + Math.Log(sum));
            }
    }

    /// <summary>Row-at-a-time twin of <see cref="Backward"/>; recomputes each probability row itself (o and lse are not read).</summary>
    public static void BackwardScalar(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> dO,
        Span<float> dq, Span<float> dk, Span<float> dvOut, int batch, int lq, int lk, int d, int dv, float scale)
    {
        var p = new double[lk];
        var dp = new double[lk];
        var gq = new double[d];
        var gk = new double[batch * lk * d];
        var gv = new double[batch * lk * dv];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < lq; i++)
            {
                int qi = (b * lq + i) * d, gi = (b * lq + i) * dv;
                double max = double.NegativeInfinity, sum = 0, delta = 0;
                for (int j = 0; j < lk; j++)
                {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += q[qi + c] * k[(b * lk + j) * d + c];
                    p[j] = scale * dot;
                    max = Math.Max(max, p[j]);
                }
                for (int j = 0; j < lk; j++) sum += p[j] = Math.Exp(p[j] - max);
                for (int j = 0; j < lk; j++)
                {
                    p[j] /= sum;
                    double dot = 0;
                    for (int c = 0; c < dv; c++)
                    {
                        dot += dO[gi + c] * v[(b * lk + j) * dv + c];
                        gv[(b * lk + j) * dv + c] += p[j] * dO[gi + c];
                    }
                    dp[j] = dot;
                    delta += p[j] * dot;
                }
                Array.Clear(gq);
                for (int j = 0; j < lk; j++)
                {
                    double ds = p[j] * (dp[j] - delta) * scale;
                    for (int c = 0; c < d; c++)
                    {
                        gq[c] += ds * k[(b * lk + j) * d + c];
                        gk[(b * lk + j) * d + c] += ds * q[qi + c];
                    }
                }
                if (dq.Length > 0) for (int c = 0; c < d; c++) dq[qi + c] = (float)gq[c];
            }
        for (int i = 0; i < dk.Length && i < gk.Length; i++) dk[i] = (float)gk[i];
        for (int i = 0; i < dvOut.Length && i < gv.Length; i++) dvOut[i] = (float)gv[i];
    }

    private static void Check(int qLen, int kLen, int vLen, int oLen, int batch, int lq, int lk, int d, int dv, string op)
    {
        if (batch < 0 || lq < 0 || lk < 0 || d < 0 || dv < 0 || qLen < (long)batch * lq * d || kLen < (long)batch * lk * d
            || vLen < (long)batch * lk * dv || oLen < (long)batch * lq * dv)
            throw new ArgumentException($"{op}: buffers of {qLen}, {kLen}, {vLen}, {oLen} elements do not hold batch {batch}, lq {lq}, lk {lk}, d {d}, dv {dv}.");
    }
}
