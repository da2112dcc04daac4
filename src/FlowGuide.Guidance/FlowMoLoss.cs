using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>How FlowMo reduces the patch-variance map s[h, w] of one video to its scalar loss.</summary>
public enum FlowMoReduction
{
    /// <summary>The maximum over patches (the paper and the released code): only the worst patch is pushed.</summary>
    Max,
    /// <summary>The mean over patches: every patch is pushed a little (a diagnostic variant, not the paper's).</summary>
    Mean,
}

/// <summary>The FlowMo loss with the intermediate patch-variance map, for diagnostics and tests.</summary>
/// <param name="Loss">Scalar: the sum over the batch of each video's maximum patch variance (differentiable).</param>
/// <param name="PatchVariance">[B, H, W]: s[h, w], the channel-mean temporal variance of the frame differences (differentiable).</param>
/// <param name="ArgMax">Per batch element, the (h, w) position the maximum picked (the first in row-major order on ties).</param>
public sealed record FlowMoLossResult(Tensor Loss, Tensor PatchVariance, (int H, int W)[] ArgMax);

/// <summary>
/// FlowMo's motion-coherence loss on a velocity (or any video latent) <c>v [B, C, F, H, W]</c>:
/// <c>d[f] = |v[:, :, f+1] - v[:, :, f]|</c> for f = 0..F-2; <c>s2 = Var_f d</c> (population variance, divided by F - 1,
/// the number of differences); <c>s = mean_c s2</c> [B, H, W]; <c>L_b = max_(h, w) s</c>. One latent pixel is one patch,
/// so the gradient reaches v only through the arg-max position's column (all channels and frames at that (h, w)).
/// </summary>
/// <remarks>
/// Batch reduction: the per-video maxima are SUMMED, so each video's gradient is exactly the gradient it would get
/// alone (the released code runs one video at a time). Built from differentiable engine ops (Narrow, Sub, Abs, Var,
/// Mean, MaxWithIndices); the maximum routes its whole gradient to the first maximal position.
/// </remarks>
public static class FlowMoLoss
{
    /// <summary>The scalar loss (see the class remarks for the batch reduction).</summary>
    public static Tensor Compute(Tensor v, FlowMoReduction reduction = FlowMoReduction.Max) => Evaluate(v, reduction).Loss;

    /// <summary>
    /// The loss together with the patch-variance map and the position each video's maximum picked (reported for both
    /// reductions; with <see cref="FlowMoReduction.Mean"/> the loss is the per-video mean of s, summed over the batch).
    /// </summary>
    public static FlowMoLossResult Evaluate(Tensor v, FlowMoReduction reduction = FlowMoReduction.Max)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (v.Rank != 5)
            throw new ArgumentException($"FlowMoLoss: expected a velocity [B, C, F, H, W], got {v.Shape}.", nameof(v));
        int b = v.Size(0), c = v.Size(1), f = v.Size(2), h = v.Size(3), w = v.Size(4);
        if (f < 2)
            throw new ArgumentException($"FlowMoLoss: needs at least 2 latent frames to take frame differences, got {f} in {v.Shape}.", nameof(v));
        if (b == 0 || c == 0 || h == 0 || w == 0)
            throw new ArgumentException($"FlowMoLoss: batch, channels, height and width must be non-empty, got {v.Shape}.", nameof(v));

        // 1. absolute differences of consecutive latent frames
        var d = Ops.Abs(Ops.Sub(Ops.Narrow(v, 2, 1, f - 1), Ops.Narrow(v, 2, 0, f - 1))); // [B, C, F-1, H, W]
        // 2. population variance over the F-1 differences
        var s2 = Ops.Var(d, 2, unbiased: false); // [B, C, H, W]
        // 3. mean over channels
        var s = Ops.Mean(s2, 1); // [B, H, W]
        // 4. maximum (or mean) over patches, per video, summed over the batch
        var flat = Ops.Reshape(s, b, h * w);                                      // [B, H*W]
        var (max, idx) = Ops.MaxWithIndices(flat, 1);                             // [B]
        var loss = reduction == FlowMoReduction.Max ? Ops.Sum(max) : Ops.Sum(Ops.Mean(flat, 1));
        var arg = new (int H, int W)[b];
        for (int i = 0; i < b; i++) arg[i] = (idx[i] / w, idx[i] % w);
        return new FlowMoLossResult(loss, s, arg);
    }
}
