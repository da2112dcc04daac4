using FlowGuide.Tensors;

namespace FlowGuide.Nn;

/// <summary>
/// Multi-head attention with diffusers parameter names: <c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>, and
/// optionally <c>norm_q</c>/<c>norm_k</c>, an RMSNorm over all heads' channels applied before the head split (Wan's
/// "rms_norm_across_heads"). Self-attention when no context is given; cross-attention takes keys and values from it.
/// Rotary embedding (cos/sin tables of [L, headDim/2]) is applied to q and k when given.
/// </summary>
public sealed class MultiHeadAttention : Module
{
    public MultiHeadAttention(int dim, int heads, Rng? rng, int? contextDim = null, bool qkNorm = false, float eps = 1e-6f, bool bias = true)
    {
        if (heads <= 0 || dim % heads != 0) throw new ArgumentException($"MultiHeadAttention: width {dim} is not divisible by {heads} heads.");
        Heads = heads;
        HeadDim = dim / heads;
        int kv = contextDim ?? dim;
        ToQ = Child("to_q", new Linear(dim, dim, bias, rng));
        ToK = Child("to_k", new Linear(kv, dim, bias, rng));
        ToV = Child("to_v", new Linear(kv, dim, bias, rng));
        ToOut = Child("to_out", new ModuleList<Linear>(new[] { new Linear(dim, dim, bias, rng) }));
        if (qkNorm)
        {
            NormQ = Child("norm_q", new RmsNorm(dim, eps));
            NormK = Child("norm_k", new RmsNorm(dim, eps));
        }
    }

    public int Heads { get; }
    public int HeadDim { get; }
    public Linear ToQ { get; }
    public Linear ToK { get; }
    public Linear ToV { get; }
    public ModuleList<Linear> ToOut { get; }
    public RmsNorm? NormQ { get; }
    public RmsNorm? NormK { get; }

    /// <summary>x [B, L, D]; context [B, Lc, Dc] for cross-attention; rope = (cos, sin) of [L, HeadDim/2]. Returns [B, L, D].</summary>
    public Tensor Forward(Tensor x, Tensor? context = null, (Tensor Cos, Tensor Sin)? rope = null)
    {
        if (x.Rank != 3) throw new ArgumentException($"MultiHeadAttention: input must be [B, L, D], got {x.Shape}.");
        var kvIn = context ?? x;
        var q = ToQ.Forward(x);
        var k = ToK.Forward(kvIn);
        var v = ToV.Forward(kvIn);
        if (NormQ is not null) q = NormQ.Forward(q);
        if (NormK is not null) k = NormK.Forward(k);
        q = SplitHeads(q); k = SplitHeads(k); v = SplitHeads(v); // [B, H, L, Dh]
        if (rope is { } r)
        {
            q = Ops.ApplyRope(q, r.Cos, r.Sin);
            k = Ops.ApplyRope(k, r.Cos, r.Sin);
        }
        var o = Ops.ScaledDotProductAttention(q, k, v);
        return ToOut[0].Forward(MergeHeads(o));
    }

    /// <summary>[B, L, H·Dh] → [B, H, L, Dh].</summary>
    public Tensor SplitHeads(Tensor t) => Ops.Permute(Ops.Reshape(t, t.Size(0), t.Size(1), Heads, HeadDim), 0, 2, 1, 3);

    /// <summary>[B, H, L, Dh] → [B, L, H·Dh].</summary>
    public static Tensor MergeHeads(Tensor t) => Ops.Reshape(Ops.Permute(t, 0, 2, 1, 3), t.Size(0), t.Size(2), t.Size(1) * t.Size(3));
}
