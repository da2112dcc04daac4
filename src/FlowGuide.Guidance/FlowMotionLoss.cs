using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>The FlowMotion loss as differentiable tensors (see <see cref="FlowMotionLoss.Compute"/>).</summary>
/// <param name="Total">Scalar <c>L_LA + L_DA</c>.</param>
/// <param name="LatentAlignment">Scalar <c>L_LA</c>, alpha included.</param>
/// <param name="DifferenceAlignment">Scalar <c>L_DA</c>, beta included (0 when difference alignment is off).</param>
public sealed record FlowMotionLossTerms(Tensor Total, Tensor LatentAlignment, Tensor DifferenceAlignment);

/// <summary>The FlowMotion loss values and their gradient with respect to the target prediction (see <see cref="FlowMotionLoss.Evaluate"/>).</summary>
/// <param name="LatentAlignment"><c>L_LA</c>, alpha included.</param>
/// <param name="DifferenceAlignment"><c>L_DA</c>, beta included (0 when off).</param>
/// <param name="Gradient">d(L_LA + L_DA) / d r_tgt, the shape of r_tgt. Equal to the gradient with respect to the latent, since <c>d r_tgt / d z_t = I</c>.</param>
public sealed record FlowMotionLossValue(double LatentAlignment, double DifferenceAlignment, Tensor Gradient)
{
    public double Total => LatentAlignment + DifferenceAlignment;
}

/// <summary>
/// FlowMotion's flow-guidance loss between the source motion representation <c>r_src</c> and the target latent
/// prediction <c>r_tgt</c>, both [B, C, F, H, W]:
/// <c>L_LA = alpha * mean((r_src - r_tgt)^2)</c> and <c>L_DA = beta * mean((D(r_src) - D(r_tgt))^2)</c>, where the
/// released difference operator <c>D</c> (<see cref="Differences"/>) stacks the consecutive frame differences
/// <c>|r[f+1] - r[f]|</c> (F - 1 maps) and, for every frame c, <c>|r[c] - r[j]|</c> for all j != c (F (F - 1) maps).
/// </summary>
/// <remarks>
/// Batch reduction: means are per video and the videos' losses are SUMMED, so each video gets the gradient it would
/// get alone (the released code runs one video at a time). With fewer than 2 latent frames D is empty and L_DA is 0.
/// Two implementations with one value: <see cref="Compute"/> builds D with engine ops (differentiable, memory
/// F^2 times the latent), <see cref="Evaluate"/> is the fused analytic form FlowMotion uses (loss and gradient in one
/// pass over frame pairs, memory one latent; |x| has derivative sign(x), 0 at 0, as torch's).
/// </remarks>
public static class FlowMotionLoss
{
    /// <summary>Maps D stacks for F latent frames: (F - 1) consecutive + F (F - 1) pairwise.</summary>
    public static int DifferenceCount(int frames) => frames < 2 ? 0 : (frames - 1) + frames * (frames - 1);

    /// <summary>
    /// D(r) [B, C, K, H, W] with K = <see cref="DifferenceCount"/>(F), for r [B, C, F, H, W]: first
    /// <c>|r[f+1] - r[f]|</c> for f = 0..F-2, then for c = 0..F-1 and j = 0..F-1, j != c, in that order, <c>|r[c] - r[j]|</c>.
    /// Differentiable.
    /// </summary>
    public static Tensor Differences(Tensor r)
    {
        CheckLatent(r, nameof(r));
        int f = r.Size(2);
        if (f < 2) throw new ArgumentException($"FlowMotionLoss.Differences: needs at least 2 latent frames, got {f} in {r.Shape}.", nameof(r));
        var maps = new List<Tensor>(1 + f);
        maps.Add(Ops.Abs(Ops.Sub(Ops.Narrow(r, 2, 1, f - 1), Ops.Narrow(r, 2, 0, f - 1)))); // [B, C, F-1, H, W]
        for (int c = 0; c < f; c++)
        {
            var others = c == 0 ? Ops.Narrow(r, 2, 1, f - 1)
                : c == f - 1 ? Ops.Narrow(r, 2, 0, f - 1)
                : Ops.Concat(new[] { Ops.Narrow(r, 2, 0, c), Ops.Narrow(r, 2, c + 1, f - c - 1) }, 2); // [B, C, F-1, H, W]
            maps.Add(Ops.Abs(Ops.Sub(Ops.Narrow(r, 2, c, 1), others)));                           // broadcast over axis 2
        }
        return Ops.Concat(maps, 2); // [B, C, (F-1) + F(F-1), H, W]
    }

    /// <summary>The loss built from engine ops (differentiable in both arguments); the reference for <see cref="Evaluate"/>.</summary>
    public static FlowMotionLossTerms Compute(Tensor source, Tensor target, double alpha, double beta, bool differenceAlignment = true)
    {
        CheckPair(source, target);
        int perVideo = target.Numel / target.Size(0);
        var la = Ops.MulScalar(Ops.Sum(Ops.Square(Ops.Sub(source, target))), (float)(alpha / perVideo));
        Tensor da;
        int f = target.Size(2);
        if (differenceAlignment && f >= 2)
        {
            int perVideoD = DifferenceCount(f) * (perVideo / f);
            da = Ops.MulScalar(Ops.Sum(Ops.Square(Ops.Sub(Differences(source), Differences(target)))), (float)(beta / perVideoD));
        }
        else da = Tensor.Scalar(0f);
        return new FlowMotionLossTerms(Ops.Add(la, da), la, da);
    }

    /// <summary>
    /// The loss values and d/d <paramref name="target"/> in closed form, without building D:
    /// <c>dL_LA/dr_tgt = 2 alpha (r_tgt - r_src) / (C F H W)</c>; for each frame pair i &lt; j, with
    /// <c>e = |r_tgt[i] - r_tgt[j]| - |r_src[i] - r_src[j]|</c> and multiplicity w = 3 for consecutive frames (they appear
    /// once in the consecutive maps and twice among the ordered pairs), 2 otherwise,
    /// <c>L_DA = beta / (K C H W) * sum w e^2</c> and the gradient <c>+-2 beta w e sign(r_tgt[i] - r_tgt[j]) / (K C H W)</c> on frames i and j.
    /// Not recorded on the tape.
    /// </summary>
    public static FlowMotionLossValue Evaluate(Tensor source, Tensor target, double alpha, double beta, bool differenceAlignment = true)
    {
        CheckPair(source, target);
        int b = target.Size(0), c = target.Size(1), f = target.Size(2), hw = target.Size(3) * target.Size(4);
        int perVideo = c * f * hw;
        var grad = Tensor.Empty(target.Shape);
        var s = source.Span.ToArray(); // copies: the rows are read from parallel workers
        var t = target.Span.ToArray();
        var g = new float[t.Length];
        bool withDa = differenceAlignment && f >= 2 && beta != 0;
        double laScale = alpha / perVideo, daScale = withDa ? beta / ((double)DifferenceCount(f) * c * hw) : 0;
        var laParts = new double[b * c];
        var daParts = new double[b * c];

        // one (video, channel) block [F, H, W] per work item: the gradient rows it writes are its own
        Parallel.For(0, b * c, block =>
        {
            int baseOff = block * f * hw;
            var gd = new double[f * hw]; // this block's gradient, accumulated in double
            // 1. latent alignment
            double la = 0;
            for (int k = 0; k < f * hw; k++)
            {
                double d = (double)t[baseOff + k] - s[baseOff + k];
                la += d * d;
                gd[k] = 2 * laScale * d;
            }
            laParts[block] = la * laScale;
            // 2. difference alignment over frame pairs i < j
            if (withDa)
            {
                double da = 0;
                for (int i = 0; i < f; i++)
                {
                    int oi = baseOff + i * hw;
                    for (int j = i + 1; j < f; j++)
                    {
                        int oj = baseOff + j * hw;
                        double w = j == i + 1 ? 3 : 2;
                        double coef = 2 * daScale * w;
                        for (int p = 0; p < hw; p++)
                        {
                            double dt = (double)t[oi + p] - t[oj + p];
                            double e = Math.Abs(dt) - Math.Abs((double)s[oi + p] - s[oj + p]);
                            da += w * e * e;
                            double gp = coef * e * Math.Sign(dt);
                            gd[i * hw + p] += gp;
                            gd[j * hw + p] -= gp;
                        }
                    }
                }
                daParts[block] = da * daScale;
            }
            for (int k = 0; k < f * hw; k++) g[baseOff + k] = (float)gd[k];
        });
        g.AsSpan().CopyTo(grad.Span);
        return new FlowMotionLossValue(laParts.Sum(), daParts.Sum(), grad);
    }

    private static void CheckLatent(Tensor r, string name)
    {
        ArgumentNullException.ThrowIfNull(r, name);
        if (r.Rank != 5) throw new ArgumentException($"FlowMotionLoss: {name} must be a latent [B, C, F, H, W], got {r.Shape}.", name);
        if (r.Numel == 0) throw new ArgumentException($"FlowMotionLoss: {name} {r.Shape} is empty.", name);
    }

    private static void CheckPair(Tensor source, Tensor target)
    {
        CheckLatent(source, nameof(source));
        CheckLatent(target, nameof(target));
        if (source.Shape != target.Shape)
            throw new ArgumentException($"FlowMotionLoss: the source representation {source.Shape} and the target prediction {target.Shape} must have one shape.");
    }
}
