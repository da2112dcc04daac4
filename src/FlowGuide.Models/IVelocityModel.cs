using FlowGuide.Tensors;

namespace FlowGuide.Models;

/// <summary>
/// A flow-matching denoiser: given a noisy latent at noise level <c>t = timestep / 1000</c> and text hidden states, it
/// predicts the velocity <c>v = eps - z0</c> (so <c>zhat0 = z_t - t * v</c>). The sampling loop and the guidance hooks
/// see models only through this interface, so a Wan2.1 transformer, a tiny test model or a fake all plug in the same way.
/// </summary>
/// <remarks>
/// <see cref="Forward"/> must be differentiable with respect to <c>latent</c> and <c>context</c> (guidance methods take
/// gradients through it) and must not depend on hidden state between calls (the loop may call it several times per step,
/// with batch 1 or 2).
/// </remarks>
public interface IVelocityModel
{
    /// <summary>
    /// Velocity for <paramref name="latent"/> [B, C, F, H, W] at <paramref name="timestep"/> [B] (the scheduler's
    /// timestep, sigma * 1000, as floats) with cross-attention <paramref name="context"/> [B, L, D]. Returns [B, C, F, H, W].
    /// </summary>
    Tensor Forward(Tensor latent, Tensor timestep, Tensor context);
}
