using FlowGuide.Models;
using FlowGuide.Tensors;

namespace FlowGuide.Training;

/// <summary>
/// FlowLoss on the flow-matching transformer: the per-sample flow-matching loss is the reconstruction term, and the
/// predicted clean latent <c>zhat0 = z_t - t v</c> of each sample <see cref="FlowLoss"/> lets through is decoded by the
/// frozen VAE (differentiably, so the flow term's gradient reaches the transformer through the decoder) and its motion
/// compared with the ground truth's.
/// </summary>
public static class DitFlowLoss
{
    /// <summary>
    /// One batch: z_t = (1 - t) z0 + t eps, v = model(z_t, 1000 t, context), recon_b = mean over the sample of
    /// (v - (eps - z0))^2, then <see cref="FlowLoss.Apply"/>. <paramref name="targets"/> maps batch indices to their
    /// ground-truth motion. The decoder's weights should be frozen; its <c>Decode</c> must be differentiable in the latent.
    /// </summary>
    public static FlowLossResult Compute(IVelocityModel model, IVideoDecoder decoder, FlowLoss loss, Tensor z0, Tensor eps, float[] t, Tensor context,
        Func<int[], FlowTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(z0);
        ArgumentNullException.ThrowIfNull(t);
        int b = z0.Size(0);
        if (t.Length != b) throw new ArgumentException($"DitFlowLoss: {t.Length} noise levels for a batch of {b}.", nameof(t));

        // 1. the flow-matching prediction, as DitTrainer.FlowLoss computes it
        var zt = DitTrainer.Noised(z0, eps, t);
        var target = Ops.Sub(eps, z0);
        var timestep = Tensor.FromArray(t.Select(v => v * 1000f).ToArray(), b);                       // [B]
        var v = model.Forward(zt, timestep, context);
        var recon = Ops.Sub(v, target).Square().Mean(new[] { 1, 2, 3, 4 });                           // [B]

        // 2. the gated / weighted flow term, decoding only the samples that need it
        Tensor Predicted(int[] rows)
        {
            var ts = Tensor.FromArray(rows.Select(i => t[i]).ToArray(), rows.Length, 1, 1, 1, 1);
            var x0 = Ops.Sub(zt.IndexSelect(0, rows), Ops.Mul(v.IndexSelect(0, rows), ts));       // [B', C, F', H', W']
            return loss.Options.CheckpointSegments && x0.RequiresGrad && GradMode.IsEnabled
                ? Checkpoint.Run(xs => decoder.Decode(xs[0]), new[] { x0 })                            // [B', 3, F, H, W]
                : decoder.Decode(x0);
        }
        return loss.Apply(recon, t, Predicted, targets);
    }
}
