using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// softmax(scale * q k^T) v as one fused flash-attention op: q [..., Lq, D], k [..., Lk, D], v [..., Lk, Dv] with
    /// identical leading dims (typically [B, heads]); scale defaults to 1/sqrt(D). No mask. Neither the forward nor the
    /// backward pass materialises the Lq x Lk score matrix (tiles of <see cref="AttentionKernels.BlockQ"/> x
    /// <see cref="AttentionKernels.BlockK"/> per thread); when recording, only the per-row log-sum-exp (B*heads*Lq
    /// floats) is kept for the backward pass, which recomputes the probabilities. Gradients not asked for are skipped.
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, float? scale = null)
    {
        var (batch, lq, lk, d, dv) = AttentionDims(q, k, v, "ScaledDotProductAttention");
        float s = scale ?? 1f / MathF.Sqrt(d);
        var outDims = q.Shape.ToArray();
        outDims[^1] = dv;
        var o = Tensor.Empty(Shape.Wrap(outDims));
        bool record = GradMode.IsEnabled && (q.RequiresGrad || k.RequiresGrad || v.RequiresGrad);
        var lse = record ? new float[batch * lq] : Array.Empty<float>();
        AttentionKernels.Forward(q.Span, k.Span, v.Span, o.Span, lse, batch, lq, lk, d, dv, s);
        if (!record) return o;
        return Autograd.Record(o, "ScaledDotProductAttention", (g, need) =>
        {
            var dq = need[0] ? Tensor.Empty(q.Shape) : null;
            var dk = need[1] ? Tensor.Empty(k.Shape) : null;
            var dvT = need[2] ? Tensor.Empty(v.Shape) : null;
            AttentionKernels.Backward(q.Span, k.Span, v.Span, o.Span, lse, g.Span,
                dq is null ? default : dq.Span, dk is null ? default : dk.Span, dvT is null ? default : dvT.Span,
                batch, lq, lk, d, dv, s);
            return new[] { dq, dk, dvT };
        }, q, k, v);
    }

    /// <summary>
    /// The same attention composed from primitive ops (Matmul, Softmax, Matmul) and differentiated by composition; it
    /// materialises the full score matrix. Kept as the reference the fused op is tested against.
    /// </summary>
    public static Tensor AttentionReference(Tensor q, Tensor k, Tensor v, float? scale = null)
    {
        var (_, _, _, d, _) = AttentionDims(q, k, v, "AttentionReference");
        var scores = MulScalar(MatmulT(q, k, false, true), scale ?? 1f / MathF.Sqrt(d));  // [..., Lq, Lk]
        return Matmul(Softmax(scores, -1), v);                                            // [..., Lq, Dv]
    }

    private static (int Batch, int Lq, int Lk, int D, int Dv) AttentionDims(Tensor q, Tensor k, Tensor v, string op)
    {
        if (q.Rank < 3 || k.Rank != q.Rank || v.Rank != q.Rank)
            throw new ArgumentException($"{op}: q {q.Shape}, k {k.Shape}, v {v.Shape} must all have the same rank of at least 3 ([..., L, D]).");
        int r = q.Rank;
        for (int i = 0; i < r - 2; i++)
            if (k.Shape.Dims[i] != q.Shape.Dims[i] || v.Shape.Dims[i] != q.Shape.Dims[i])
                throw new ArgumentException($"{op}: leading dims of q {q.Shape}, k {k.Shape}, v {v.Shape} must be identical (no broadcasting).");
        int d = q.Shape.Dims[r - 1], lk = k.Shape.Dims[r - 2];
        if (k.Shape.Dims[r - 1] != d)
            throw new ArgumentException($"{op}: k {k.Shape} must have head dim {d} like q {q.Shape}.");
        if (v.Shape.Dims[r - 2] != lk)
            throw new ArgumentException($"{op}: v {v.Shape} must have {lk} rows like k {k.Shape}.");
        if (lk == 0)
            throw new ArgumentException($"{op}: k {k.Shape} has no keys; attention over an empty set is undefined.");
        return (q.Shape.Prod(0, r - 2), q.Shape.Dims[r - 2], lk, d, v.Shape.Dims[r - 1]);
    }
}
