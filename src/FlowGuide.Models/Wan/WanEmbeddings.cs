using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>
/// Diffusers' <c>TimestepEmbedding</c>: <c>linear_2(silu(linear_1(sinusoid)))</c>, freq dim -> D -> D.
/// </summary>
public sealed class WanTimestepEmbedding : Module
{
    public WanTimestepEmbedding(int freqDim, int dim, Rng? rng)
    {
        Linear1 = Child("linear_1", new Linear(freqDim, dim, true, rng));
        Linear2 = Child("linear_2", new Linear(dim, dim, true, rng));
    }

    public Linear Linear1 { get; }
    public Linear Linear2 { get; }

    /// <summary>[B, freqDim] -> [B, D].</summary>
    public Tensor Forward(Tensor x) => Linear2.Forward(Ops.Silu(Linear1.Forward(x)));
}

/// <summary>
/// Diffusers' <c>PixArtAlphaTextProjection</c> as Wan uses it: <c>linear_2(gelu_tanh(linear_1(text)))</c>, text dim -> D -> D,
/// applied to every context row (padding rows included: Wan uses no attention mask).
/// </summary>
public sealed class WanTextProjection : Module
{
    public WanTextProjection(int textDim, int dim, Rng? rng)
    {
        Linear1 = Child("linear_1", new Linear(textDim, dim, true, rng));
        Linear2 = Child("linear_2", new Linear(dim, dim, true, rng));
    }

    public Linear Linear1 { get; }
    public Linear Linear2 { get; }

    /// <summary>[B, Lt, textDim] -> [B, Lt, D].</summary>
    public Tensor Forward(Tensor text) => Linear2.Forward(Ops.Gelu(Linear1.Forward(text)));
}

/// <summary>
/// Diffusers' <c>condition_embedder</c> (<c>WanTimeTextImageEmbedding</c> without the image branch): the timestep's
/// sinusoid (<c>time_proj</c> is NOT that sinusoid: in diffusers the parameter-free sinusoid is <c>timesteps_proj</c> and
/// <c>time_proj</c> is the Linear D -> 6D that produces the blocks' modulation), the time MLP, and the text projection.
/// </summary>
public sealed class WanConditionEmbedder : Module
{
    public WanConditionEmbedder(WanTransformerConfig config, Rng? rng)
    {
        int d = config.Width;
        FreqDim = config.FreqDim;
        TimeEmbedder = Child("time_embedder", new WanTimestepEmbedding(config.FreqDim, d, rng));
        TimeProj = Child("time_proj", new Linear(d, 6 * d, true, rng));
        TextEmbedder = Child("text_embedder", new WanTextProjection(config.TextDim, d, rng));
    }

    public int FreqDim { get; }
    public WanTimestepEmbedding TimeEmbedder { get; }
    public Linear TimeProj { get; }
    public WanTextProjection TextEmbedder { get; }

    /// <summary>
    /// timestep [B] (the sigma x 1000 float) and text [B, Lt, textDim] -> (temb [B, D] for the output modulation,
    /// timestepProj [B, 6, D] for the blocks' modulation, context [B, Lt, D] for cross-attention).
    /// </summary>
    public (Tensor Temb, Tensor TimestepProj, Tensor Context) Forward(Tensor timestep, Tensor text)
    {
        // 1. time: sinusoid -> MLP
        var temb = TimeEmbedder.Forward(Sinusoid(timestep, FreqDim)); // [B, D]
        // 2. block modulation: time_proj(silu(temb))
        int b = temb.Size(0), d = temb.Size(1);
        var timestepProj = Ops.Reshape(TimeProj.Forward(Ops.Silu(temb)), b, 6, d); // [B, 6, D]
        // 3. text
        var context = TextEmbedder.Forward(text); // [B, Lt, D]
        return (temb, timestepProj, context);
    }

    /// <summary>
    /// Sinusoidal embedding [B, dim] of <paramref name="timestep"/> [B] with the cos half first (diffusers' Timesteps
    /// with flip_sin_to_cos, shift 0): column i &lt; half is cos(t·f_i), column half + i is sin(t·f_i),
    /// f_i = exp(-ln(10000)·i/half). f_i is rounded to float32 from double and t·f_i is a float32 product, as in
    /// diffusers' float32 arithmetic; cos and sin are then evaluated in double. A constant (no gradient to t).
    /// </summary>
    public static Tensor Sinusoid(Tensor timestep, int dim)
    {
        if (timestep.Rank != 1)
            throw new ArgumentException($"WanConditionEmbedder: timestep must be [B] (one float per sample, sigma x 1000), got {timestep.Shape}.");
        if (dim < 2 || dim % 2 != 0) throw new ArgumentException($"WanConditionEmbedder: sinusoid width {dim} must be even and at least 2.");
        int b = timestep.Size(0), half = dim / 2;
        var freqs = new float[half];
        for (int i = 0; i < half; i++) freqs[i] = (float)Math.Exp(-Math.Log(10000.0) * i / half);
        var emb = Tensor.Empty(b, dim);
        var t = timestep.Span;
        var e = emb.Span;
        for (int n = 0; n < b; n++)
            for (int i = 0; i < half; i++)
            {
                float arg = t[n] * freqs[i];
                e[n * dim + i] = (float)Math.Cos(arg);
                e[n * dim + half + i] = (float)Math.Sin(arg);
            }
        return emb;
    }
}
