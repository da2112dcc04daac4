using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

public static partial class Ops
{
    /// <summary>
    /// Matrix product with NumPy semantics: 1-D operands are promoted (and the added axis removed), leading batch
    /// dimensions broadcast. Transposes are passed to GEMM as flags, never copied.
    /// </summary>
    public static Tensor Matmul(this Tensor a, Tensor b) => MatmulT(a, b, false, false);

    /// <summary>op(a) @ op(b) where op transposes the last two axes when the flag is set (no copy is made).</summary>
    public static Tensor MatmulT(Tensor a, Tensor b, bool transA, bool transB)
    {
        if (a.Rank == 0 || b.Rank == 0) throw new ArgumentException($"Matmul: operands must have at least one dimension, got {a.Shape} and {b.Shape}.");
        bool vecA = a.Rank == 1, vecB = b.Rank == 1;
        var a2 = vecA ? Reshape(a, 1, a.Numel) : a;
        var b2 = vecB ? Reshape(b, b.Numel, 1) : b;
        var o = BatchedMatmul(a2, b2, transA && !vecA, transB && !vecB);
        if (vecA) o = Squeeze(o, -2);
        if (vecB) o = Squeeze(o, -1);
        return o;
    }

    private static Tensor BatchedMatmul(Tensor a, Tensor b, bool ta, bool tb)
    {
        int ar = a.Rank, br = b.Rank;
        int m = ta ? a.Shape.Dims[ar - 1] : a.Shape.Dims[ar - 2];
        int k = ta ? a.Shape.Dims[ar - 2] : a.Shape.Dims[ar - 1];
        int kb = tb ? b.Shape.Dims[br - 1] : b.Shape.Dims[br - 2];
        int n = tb ? b.Shape.Dims[br - 2] : b.Shape.Dims[br - 1];
        if (k != kb)
            throw new ArgumentException($"Matmul: inner dimensions differ: {a.Shape}{(ta ? "^T" : "")} @ {b.Shape}{(tb ? "^T" : "")} ({k} vs {kb}).");
        var batchA = Shape.Wrap(a.Shape.Dims[..(ar - 2)].ToArray());
        var batchB = Shape.Wrap(b.Shape.Dims[..(br - 2)].ToArray());
        var batch = Shape.Broadcast(batchA, batchB, "Matmul");
        var outDims = batch.ToArray().Concat(new[] { m, n }).ToArray();
        var o = Tensor.Empty(Shape.Wrap(outDims));
        int nb = batch.Numel;
        int sizeA = m * k, sizeB = k * n;

        if (k == 0 || o.Numel == 0)
        {
            o.Span.Clear(); // an empty inner dimension sums nothing
        }
        else if (batchB.Numel == 1 && !ta)
        {
            // [.., m, k] @ [k, n]: fold A's batch into rows, one big GEMM.
            Gemm.Sgemm(false, tb, nb * m, n, k, 1f, a.Span, k, b.Span, tb ? k : n, 0f, o.Span, n);
        }
        else if (batchA == batch && batchB == batch)
        {
            Gemm.SgemmBatched(nb, ta, tb, m, n, k, 1f, a.Span, sizeA, b.Span, sizeB, 0f, o.Span, (long)m * n);
        }
        else
        {
            // General broadcast of batch dims: expand the smaller operand's batch (rare in models).
            var ea = batchA == batch ? a : Expand(a.Detach(), batch.ToArray().Concat(a.Shape.Dims[(ar - 2)..].ToArray()).ToArray());
            var eb = batchB == batch ? b : Expand(b.Detach(), batch.ToArray().Concat(b.Shape.Dims[(br - 2)..].ToArray()).ToArray());
            Gemm.SgemmBatched(nb, ta, tb, m, n, k, 1f, ea.Span, sizeA, eb.Span, sizeB, 0f, o.Span, (long)m * n);
        }

        return Autograd.Record(o, "Matmul", (g, need) =>
        {
            // C = op(A) op(B).  dop(A) = G op(B)^T,  dop(B) = op(A)^T G.
            Tensor? ga = null, gb = null;
            if (need[0]) ga = ta ? MatmulT(b, g, tb, true) : MatmulT(g, b, false, !tb);
            if (need[1] && br == 2 && ar > 2 && !ta)
            {
                // B shared across A's batch: fold the batch into rows so the weight gradient is one GEMM, not a sum of many.
                var a2 = Reshape(a, -1, k);  // [batch*m, k]
                var g2 = Reshape(g, -1, n);  // [batch*m, n]
                gb = tb ? MatmulT(g2, a2, true, false) : MatmulT(a2, g2, true, false);
            }
            else if (need[1]) gb = tb ? MatmulT(g, a, true, ta) : MatmulT(a, g, !ta, false);
            return new[] { ga, gb };
        }, a, b);
    }

    /// <summary>x W^T + b (PyTorch Linear): x [..., in], weight [out, in], bias [out].</summary>
    public static Tensor Linear(this Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2 || x.Rank == 0 || x.Shape.Dims[^1] != weight.Shape.Dims[1])
            throw new ArgumentException($"Linear: input {x.Shape} does not match weight {weight.Shape} (expected [..., {(weight.Rank == 2 ? weight.Shape.Dims[1] : -1)}] and [out, in]).");
        if (bias is not null && (bias.Rank != 1 || bias.Numel != weight.Shape.Dims[0]))
            throw new ArgumentException($"Linear: bias {bias.Shape} does not match weight {weight.Shape} (expected [{weight.Shape.Dims[0]}]).");
        var y = MatmulT(x, weight, false, true);
        return bias is null ? y : Add(y, bias);
    }
}
