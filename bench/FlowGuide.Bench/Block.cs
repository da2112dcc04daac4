using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>
/// The benchmark transformer block, the same computation as <c>Block</c> in bench/reference/torch_bench.py:
/// pre-norm self-attention (LayerNorm eps 1e-6, q/k/v/out projections with bias, 4 heads) and a GELU(tanh) FFN, both residual.
/// </summary>
public sealed class BenchBlock
{
    private readonly int _heads;
    private readonly Tensor _wq, _bq, _wk, _bk, _wv, _bv, _wo, _bo, _w1, _b1, _w2, _b2, _g1, _be1, _g2, _be2;

    public BenchBlock(Rng rng, int width = 256, int heads = 4, int ffn = 1024)
    {
        _heads = heads;
        Tensor W(int o, int i) => Tensor.RandUniform(rng, -1f / MathF.Sqrt(i), 1f / MathF.Sqrt(i), o, i);
        Tensor B(int o, int i) => Tensor.RandUniform(rng, -1f / MathF.Sqrt(i), 1f / MathF.Sqrt(i), o);
        (_wq, _bq) = (W(width, width), B(width, width));
        (_wk, _bk) = (W(width, width), B(width, width));
        (_wv, _bv) = (W(width, width), B(width, width));
        (_wo, _bo) = (W(width, width), B(width, width));
        (_w1, _b1) = (W(ffn, width), B(ffn, width));
        (_w2, _b2) = (W(width, ffn), B(width, ffn));
        (_g1, _be1, _g2, _be2) = (Tensor.Ones(width), Tensor.Zeros(width), Tensor.Ones(width), Tensor.Zeros(width));
        foreach (var p in Parameters) p.RequiresGrad = true;
    }

    public Tensor[] Parameters => new[] { _wq, _bq, _wk, _bk, _wv, _bv, _wo, _bo, _w1, _b1, _w2, _b2, _g1, _be1, _g2, _be2 };

    public Tensor Forward(Tensor x)
    {
        int b = x.Size(0), l = x.Size(1), d = x.Size(2), dh = d / _heads;
        // 1. self-attention
        var h = Ops.LayerNorm(x, d, _g1, _be1, 1e-6f);
        Tensor Split(Tensor t) => Ops.Permute(Ops.Reshape(t, b, l, _heads, dh), 0, 2, 1, 3); // [B, H, L, Dh]
        var a = Ops.ScaledDotProductAttention(Split(Ops.Linear(h, _wq, _bq)), Split(Ops.Linear(h, _wk, _bk)), Split(Ops.Linear(h, _wv, _bv)));
        a = Ops.Reshape(Ops.Permute(a, 0, 2, 1, 3), b, l, d); // [B, L, D]
        x = x + Ops.Linear(a, _wo, _bo);
        // 2. feed-forward
        var f = Ops.Linear(Ops.Gelu(Ops.Linear(Ops.LayerNorm(x, d, _g2, _be2, 1e-6f), _w1, _b1)), _w2, _b2);
        return x + f;
    }
}
