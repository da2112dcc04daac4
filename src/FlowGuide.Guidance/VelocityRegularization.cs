using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>
/// FlowMotion's Velocity Regularization (VR): split the target velocity, per latent position (b, f, h, w) over the
/// channel axis, into its projection on the running average velocity and the rest, and damp the rest:
/// <c>proj = (&lt;v, v_avg&gt; / (|v_avg|^2 + eps)) v_avg</c>, <c>perp = v - proj</c>, <c>v_reg = proj + gamma * perp</c>.
/// The average is the straight-line velocity from the run's start, <c>v_avg = (z_t - z_T) / (t - t_0)</c>.
/// </summary>
/// <remarks>
/// Not differentiable on purpose: FlowMotion treats the regularized velocity as a constant (computed from a model call
/// without gradient), so <c>d r_tgt / d z_t = I</c>. Arithmetic per position is in double.
/// </remarks>
public static class VelocityRegularization
{
    /// <summary>
    /// <c>(latent - initialLatent) / (sigma - sigma0)</c>: the average velocity of the path from z_T at sigma0 to the
    /// latent at sigma. Throws when sigma equals sigma0 (at the first step there is no path yet; FlowMotion uses v as is).
    /// </summary>
    public static Tensor AverageVelocity(Tensor latent, Tensor initialLatent, double sigma, double sigma0)
    {
        ArgumentNullException.ThrowIfNull(latent);
        ArgumentNullException.ThrowIfNull(initialLatent);
        if (latent.Shape != initialLatent.Shape)
            throw new ArgumentException($"VelocityRegularization.AverageVelocity: latent {latent.Shape} and initial latent {initialLatent.Shape} must have one shape.");
        double dt = sigma - sigma0;
        if (dt == 0 || !double.IsFinite(dt))
            throw new ArgumentException($"VelocityRegularization.AverageVelocity: sigma {sigma} must differ from the starting sigma {sigma0}.");
        using var _ = GradMode.NoGrad();
        return Ops.MulScalar(Ops.Sub(latent, initialLatent), (float)(1.0 / dt));
    }

    /// <summary>
    /// <c>v_reg = proj + gamma * perp</c> for velocities <paramref name="velocity"/> and <paramref name="average"/> of one
    /// shape [B, C, F, H, W] (channels on axis 1). Gamma 1 returns a copy of <paramref name="velocity"/>; gamma 0 keeps
    /// only the projection. Where the average is zero the projection is zero, so v_reg = gamma * v there.
    /// </summary>
    public static Tensor Apply(Tensor velocity, Tensor average, double gamma, double epsilon = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(velocity);
        ArgumentNullException.ThrowIfNull(average);
        if (velocity.Rank != 5)
            throw new ArgumentException($"VelocityRegularization.Apply: velocity must be [B, C, F, H, W], got {velocity.Shape}.", nameof(velocity));
        if (velocity.Shape != average.Shape)
            throw new ArgumentException($"VelocityRegularization.Apply: average velocity {average.Shape} must have the velocity's shape {velocity.Shape}.", nameof(average));
        if (!double.IsFinite(gamma)) throw new ArgumentException($"VelocityRegularization.Apply: gamma must be finite, got {gamma}.", nameof(gamma));
        int b = velocity.Size(0), c = velocity.Size(1), n = velocity.Size(2) * velocity.Size(3) * velocity.Size(4);
        var result = Tensor.Empty(velocity.Shape);
        ReadOnlySpan<float> v = velocity.Span, a = average.Span;
        var o = result.Span;
        var dot = new double[n];
        var norm = new double[n];
        for (int bi = 0; bi < b; bi++)
        {
            Array.Clear(dot);
            Array.Clear(norm);
            // 1. <v, v_avg> and |v_avg|^2 per position, accumulated channel by channel (contiguous rows)
            for (int ci = 0; ci < c; ci++)
            {
                int off = (bi * c + ci) * n;
                for (int p = 0; p < n; p++)
                {
                    double ap = a[off + p];
                    dot[p] += v[off + p] * ap;
                    norm[p] += ap * ap;
                }
            }
            // 2. k = <v, v_avg> / (|v_avg|^2 + eps): proj = k v_avg
            for (int p = 0; p < n; p++) dot[p] /= norm[p] + epsilon;
            // 3. v_reg = proj + gamma (v - proj)
            for (int ci = 0; ci < c; ci++)
            {
                int off = (bi * c + ci) * n;
                for (int p = 0; p < n; p++)
                {
                    double proj = dot[p] * a[off + p];
                    o[off + p] = (float)(proj + gamma * (v[off + p] - proj));
                }
            }
        }
        return result;
    }
}
