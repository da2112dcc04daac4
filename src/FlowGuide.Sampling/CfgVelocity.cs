using FlowGuide.Models;
using FlowGuide.Tensors;

namespace FlowGuide.Sampling;

/// <summary>
/// Classifier-free guidance around a velocity model: <c>v = v_u + g (v_c - v_u)</c>. With g = 1 only the conditional
/// pass runs. Otherwise the two passes run as one batch of 2B when <see cref="Batched"/> and the two contexts have the
/// same shape (one model call, more memory), else as two calls. Differentiable end to end.
/// </summary>
public sealed class CfgVelocity
{
    public CfgVelocity(IVelocityModel model, float guidanceScale, bool batched = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!float.IsFinite(guidanceScale)) throw new ArgumentException($"CfgVelocity: guidance scale must be finite, got {guidanceScale}.", nameof(guidanceScale));
        Model = model;
        GuidanceScale = guidanceScale;
        Batched = batched;
    }

    public IVelocityModel Model { get; }

    /// <summary>The default scale g.</summary>
    public float GuidanceScale { get; }

    /// <summary>Whether the conditional and unconditional passes share one batched model call.</summary>
    public bool Batched { get; }

    /// <summary>
    /// Guided velocity for <paramref name="latent"/> [B, C, F, H, W] at <paramref name="timestep"/> with contexts
    /// [1 or B, L, D]; scale <paramref name="guidanceScale"/>.
    /// </summary>
    public Tensor Compute(Tensor latent, float timestep, Tensor cond, Tensor uncond, float guidanceScale)
    {
        ArgumentNullException.ThrowIfNull(latent);
        ArgumentNullException.ThrowIfNull(cond);
        ArgumentNullException.ThrowIfNull(uncond);
        if (latent.Rank != 5) throw new ArgumentException($"CfgVelocity: latent must be [B, C, F, H, W], got {latent.Shape}.", nameof(latent));
        int b = latent.Size(0);
        var c = MatchBatch(cond, b, "prompt");
        if (guidanceScale == 1f) return Model.Forward(latent, Tensor.Full(timestep, b), c);

        var u = MatchBatch(uncond, b, "negative prompt");
        Tensor vc, vu;
        if (Batched && c.Shape == u.Shape)
        {
            var x2 = Ops.Concat(new[] { latent, latent }, 0);                 // [2B, C, F, H, W]
            var ctx2 = Ops.Concat(new[] { c, u }, 0);                         // [2B, L, D]
            var v2 = Model.Forward(x2, Tensor.Full(timestep, 2 * b), ctx2);
            CheckOutput(v2, x2);
            vc = Ops.Narrow(v2, 0, 0, b);                                     // [B, C, F, H, W]
            vu = Ops.Narrow(v2, 0, b, b);
        }
        else
        {
            vc = Model.Forward(latent, Tensor.Full(timestep, b), c);
            vu = Model.Forward(latent, Tensor.Full(timestep, b), u);
        }
        // v_u + g (v_c - v_u), the order of operations diffusers uses
        return Ops.Add(vu, Ops.MulScalar(Ops.Sub(vc, vu), guidanceScale));
    }

    private static Tensor MatchBatch(Tensor ctx, int b, string what)
    {
        if (ctx.Rank != 3) throw new ArgumentException($"CfgVelocity: {what} embeddings must be [1 or B, L, D], got {ctx.Shape}.");
        if (ctx.Size(0) == b) return ctx;
        if (ctx.Size(0) == 1) return Ops.Expand(ctx, b, ctx.Size(1), ctx.Size(2));
        throw new ArgumentException($"CfgVelocity: {what} embeddings {ctx.Shape} have batch {ctx.Size(0)}; expected 1 or the latent's {b}.");
    }

    private void CheckOutput(Tensor v, Tensor x)
    {
        if (v.Shape != x.Shape)
            throw new InvalidOperationException($"CfgVelocity: {Model.GetType().Name}.Forward returned {v.Shape} for a latent {x.Shape}; a velocity must have the latent's shape.");
    }
}
