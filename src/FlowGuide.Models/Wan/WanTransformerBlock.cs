using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>Diffusers' <c>GELU</c> projection (<c>ffn.net.0</c>): <c>gelu_tanh(proj(x))</c>.</summary>
public sealed class WanGeluProjection : Module
{
    public WanGeluProjection(int dimIn, int dimOut, Rng? rng) => Proj = Child("proj", new Linear(dimIn, dimOut, true, rng));

    public Linear Proj { get; }

    public Tensor Forward(Tensor x) => Ops.Gelu(Proj.Forward(x));
}

/// <summary>
/// Diffusers' <c>FeedForward</c> with <c>gelu-approximate</c>: <c>net.0</c> = Linear D -> ffn + GELU(tanh), <c>net.1</c> =
/// dropout (identity at inference, no parameters), <c>net.2</c> = Linear ffn -> D.
/// </summary>
public sealed class WanFeedForward : Module
{
    public WanFeedForward(int dim, int ffnDim, Rng? rng)
    {
        Up = new WanGeluProjection(dim, ffnDim, rng);
        Down = new Linear(ffnDim, dim, true, rng);
        Child("net", new ModuleList<Module>(new Module[] { Up, new Dropout(0f, rng ?? new Rng(0)), Down }));
    }

    public WanGeluProjection Up { get; }
    public Linear Down { get; }

    /// <summary>[..., D] -> [..., D].</summary>
    public Tensor Forward(Tensor x) => Down.Forward(Up.Forward(x));
}

/// <summary>
/// One Wan2.1 transformer block (diffusers' <c>WanTransformerBlock</c>): adaLN-modulated self-attention with 3-D RoPE,
/// cross-attention to the text (plain LayerNorm with affine, no modulation, no gate), and a modulated, gated FFN.
/// The six modulation vectors are <c>scale_shift_table [1, 6, D] + timestepProj [B, 6, D]</c>, in the order
/// shift, scale, gate, c_shift, c_scale, c_gate.
/// </summary>
public sealed class WanTransformerBlock : Module
{
    private readonly int _dim;
    private readonly float _eps;

    public WanTransformerBlock(WanTransformerConfig config, Rng? rng)
    {
        int d = config.Width;
        _dim = d;
        _eps = config.Eps;
        bool qkNorm = config.QkNorm is not null;
        // Same initialisation as diffusers: randn / sqrt(D).
        ScaleShiftTable = Parameter("scale_shift_table", Init.Normal(rng, 1f / MathF.Sqrt(d), 1, 6, d));
        Attn1 = Child("attn1", new MultiHeadAttention(d, config.NumHeads, rng, qkNorm: qkNorm, eps: config.Eps));
        Attn2 = Child("attn2", new MultiHeadAttention(d, config.NumHeads, rng, contextDim: d, qkNorm: qkNorm, eps: config.Eps));
        Norm2 = config.CrossAttnNorm ? Child("norm2", new LayerNorm(d, config.Eps, affine: true)) : null;
        Ffn = Child("ffn", new WanFeedForward(d, config.FfnDim, rng));
    }

    public Tensor ScaleShiftTable { get; }
    public MultiHeadAttention Attn1 { get; }
    public MultiHeadAttention Attn2 { get; }

    /// <summary>The pre-cross-attention LayerNorm (affine); null when the config has cross_attn_norm false.</summary>
    public LayerNorm? Norm2 { get; }
    public WanFeedForward Ffn { get; }

    /// <summary>
    /// x [B, L, D] (tokens in (frame, row, column) order), timestepProj [B, 6, D], context [B, Lt, D] (the projected text),
    /// rope = (cos, sin) of [L, headDim/2]. Returns [B, L, D].
    /// </summary>
    public Tensor Forward(Tensor x, Tensor timestepProj, Tensor context, (Tensor Cos, Tensor Sin) rope)
    {
        // 0. modulation: [1, 6, D] + [B, 6, D] -> six [B, 1, D]
        var mod = Ops.Chunk(Ops.Add(ScaleShiftTable, timestepProj), 6, 1);
        var (shift, scale, gate) = (mod[0], mod[1], mod[2]);
        var (cShift, cScale, cGate) = (mod[3], mod[4], mod[5]);

        // 1. self-attention: x += gate * attn1(norm1(x) * (1 + scale) + shift)
        x = Section(x, x =>
        {
            var h = Modulate(Ops.LayerNorm(x, _dim, null, null, _eps), shift, scale);
            return Ops.Add(x, Ops.Mul(Attn1.Forward(h, null, rope), gate));
        });

        // 2. cross-attention: x += attn2(norm2(x), context)
        x = Section(x, x => Ops.Add(x, Attn2.Forward(Norm2 is null ? x : Norm2.Forward(x), context)));

        // 3. feed-forward: x += c_gate * ffn(norm3(x) * (1 + c_scale) + c_shift)
        return Section(x, x =>
        {
            var h = Modulate(Ops.LayerNorm(x, _dim, null, null, _eps), cShift, cScale);
            return Ops.Add(x, Ops.Mul(Ffn.Forward(h), cGate));
        });
    }

    /// <summary>
    /// Runs one residual section. Under no-grad it gets its own <see cref="TensorScope"/> so its intermediates (the FFN's
    /// [B, L, ffn] tensors, attention's q/k/v) go back to the pool before the next section starts.
    /// </summary>
    private static Tensor Section(Tensor x, Func<Tensor, Tensor> body)
    {
        if (GradMode.IsEnabled) return body(x);
        using var scope = new TensorScope();
        return scope.Keep(body(x));
    }

    /// <summary>n * (1 + scale) + shift with scale, shift [B, 1, D] broadcast over the tokens.</summary>
    internal static Tensor Modulate(Tensor normed, Tensor shift, Tensor scale) =>
        Ops.Add(Ops.Mul(normed, Ops.AddScalar(scale, 1f)), shift);
}
