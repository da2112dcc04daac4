using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>
/// A zero-shot, differentiable optical-flow estimator: coarse-to-fine TV-L1 (primal-dual with the thresholding step of
/// Zach, Pock and Bischof 2007) on grey levels, with frame 2 re-warped toward frame 1 several times per level, all
/// written with engine ops so that gradients reach both frames through autograd. Nothing is learned; it works on any
/// image size (pyramid levels are resized bilinearly, not padded).
/// </summary>
public sealed partial class ClassicalFlow
{
    /// <summary>Creates an estimator; <paramref name="options"/> defaults to <see cref="ClassicalFlowOptions.Default"/>.</summary>
    public ClassicalFlow(ClassicalFlowOptions? options = null)
    {
        Options = options ?? ClassicalFlowOptions.Default;
        Options.Validate();
    }

    /// <summary>The settings this estimator runs with.</summary>
    public ClassicalFlowOptions Options { get; }

    /// <summary>
    /// Forward flow from <paramref name="frame1"/> to <paramref name="frame2"/>: both [N, C, H, W] with C = 3 (RGB) or 1
    /// (grey), in the range <see cref="ClassicalFlowOptions.InputRange"/> says ([-1, 1] by default). Returns [N, 2, H, W]
    /// holding (u, v) in pixels: pixel (x, y) of frame 1 matches frame 2 at (x + u, y + v). Differentiable with respect
    /// to both frames when they require gradients (each warp's iterations are one fused op with a hand-written backward,
    /// so the tape grows with Levels x Warps, not with the iterations; see <see cref="ClassicalFlowOptions.CheckpointWarps"/>); with neither
    /// requiring one, no tape is recorded and buffers are recycled through tensor scopes.
    /// </summary>
    public Tensor Estimate(Tensor frame1, Tensor frame2)
    {
        CheckFrames(frame1, frame2);
        int n = frame1.Size(0), h = frame1.Size(2), w = frame1.Size(3);
        var o = Options;
        bool recording = GradMode.IsEnabled && (frame1.RequiresGrad || frame2.RequiresGrad);
        var consts = new Constants(o, o.CheckpointWarps ?? (long)n * h * w > o.CheckpointAbovePixels);

        // 1. grey levels on [0, 255]; optional pre-smoothing, structure-texture split, contrast normalisation
        var g1 = ToGrey(frame1, o.InputRange);
        var g2 = ToGrey(frame2, o.InputRange);
        if (o.PreSmoothSigma > 0)
        {
            g1 = GaussianBlur(g1, o.PreSmoothSigma);
            g2 = GaussianBlur(g2, o.PreSmoothSigma);
        }
        if (o.TextureAlpha > 0)
        {
            g1 = g1.Sub(GaussianBlur(g1, o.TextureSigma).MulScalar(o.TextureAlpha));
            g2 = g2.Sub(GaussianBlur(g2, o.TextureSigma).MulScalar(o.TextureAlpha));
        }
        if (o.NormalizeSigma > 0)
        {
            g1 = NormalizeContrast(g1, o.NormalizeSigma);
            g2 = NormalizeContrast(g2, o.NormalizeSigma);
        }

        // 2. pyramids, finest first
        var sizes = LevelSizes(h, w, o);
        var p1 = BuildPyramid(g1, sizes, o.ScaleFactor);
        var p2 = BuildPyramid(g2, sizes, o.ScaleFactor);

        // 3. coarse to fine: solve at each level, carry the flow (and the brightness field) to the next
        int k = consts.Channels;
        var (ch, cw) = sizes[^1];
        Tensor u = Tensor.Zeros(n, k, ch, cw);
        for (int level = sizes.Count - 1; level >= 0; level--)
        {
            using var scope = recording ? null : new TensorScope();
            if (level < sizes.Count - 1) u = UpsampleFlow(u, sizes[level].H, sizes[level].W);
            u = SolveLevel(p1[level], p2[level], u, consts, level == 0 ? o.FinestIterations ?? o.Iterations : o.Iterations, recording);
            scope?.Keep(u);
        }
        return k == 2 ? u : u.Narrow(1, 0, 2); // [N, 2, H, W]
    }

    private static void CheckFrames(Tensor frame1, Tensor frame2)
    {
        ArgumentNullException.ThrowIfNull(frame1);
        ArgumentNullException.ThrowIfNull(frame2);
        if (frame1.Rank != 4 || (frame1.Size(1) != 3 && frame1.Size(1) != 1))
            throw new ArgumentException($"ClassicalFlow.Estimate: frame1 has shape {frame1.Shape}, expected [N, 3, H, W] (RGB) or [N, 1, H, W] (grey).");
        if (frame2.Shape != frame1.Shape)
            throw new ArgumentException($"ClassicalFlow.Estimate: frame2 has shape {frame2.Shape} but frame1 has {frame1.Shape}; the frames must have the same batch, channels and size.");
        if (frame1.Size(0) < 1 || frame1.Size(2) < 2 || frame1.Size(3) < 2)
            throw new ArgumentException($"ClassicalFlow.Estimate: frames of shape {frame1.Shape} are too small; expected N >= 1 and H, W >= 2.");
    }

    /// <summary>Level sizes from the input (index 0) to the coarsest, each ScaleFactor times the previous, rounded.</summary>
    internal static List<(int H, int W)> LevelSizes(int h, int w, ClassicalFlowOptions o)
    {
        var sizes = new List<(int H, int W)> { (h, w) };
        for (int l = 1; l < o.Levels; l++)
        {
            double s = Math.Pow(o.ScaleFactor, l);
            int lh = (int)Math.Round(h * s, MidpointRounding.AwayFromZero), lw = (int)Math.Round(w * s, MidpointRounding.AwayFromZero);
            if (Math.Min(lh, lw) < o.MinLevelSize) break;
            sizes.Add((lh, lw));
        }
        return sizes;
    }

    private static List<Tensor> BuildPyramid(Tensor grey, List<(int H, int W)> sizes, double scale)
    {
        // Anti-alias before each reduction: sigma = 0.6 sqrt(1/s^2 - 1) (about 1.04 px at s = 0.5).
        float sigma = (float)(0.6 * Math.Sqrt(1 / (scale * scale) - 1));
        var levels = new List<Tensor>(sizes.Count) { grey };
        for (int l = 1; l < sizes.Count; l++)
            levels.Add(GaussianBlur(levels[l - 1], sigma).UpsampleBilinear2d(sizes[l].H, sizes[l].W, alignCorners: false));
        return levels;
    }

    /// <summary>Resizes the flow (and brightness) field bilinearly and rescales u by the width ratio, v by the height ratio.</summary>
    private static Tensor UpsampleFlow(Tensor u, int h, int w)
    {
        int k = u.Size(1);
        float sx = (float)w / u.Size(3), sy = (float)h / u.Size(2);
        var scale = new float[k];
        scale[0] = sx; scale[1] = sy;
        for (int i = 2; i < k; i++) scale[i] = 1f;
        return u.UpsampleBilinear2d(h, w, alignCorners: false).Mul(Tensor.FromArray(scale, 1, k, 1, 1));
    }

    /// <summary>
    /// One pyramid level: <see cref="ClassicalFlowOptions.Warps"/> times, warp frame 2 (and its gradients) by the current
    /// flow, linearise the brightness constancy around it, and run the primal-dual iterations (one fused op). When a tape
    /// is recorded with checkpointing on, each warp (linearisation and iterations) is one checkpointed segment recomputed
    /// during backward, so the tape keeps only the warps' inputs; otherwise buffers are recycled per warp.
    /// </summary>
    private static Tensor SolveLevel(Tensor i0, Tensor i1, Tensor u, Constants c, int iterations, bool recording)
    {
        int n = i0.Size(0), h = i0.Size(2), w = i0.Size(3), k = c.Channels;
        var stack = Ops.Concat(new[] { i1, ImageGradient(i1, c) }, 1); // [N, 3, H, W]: I1, dI1/dx, dI1/dy
        var state = Ops.Concat(new[] { u, Tensor.Zeros(n, 2 * k, h, w) }, 1); // (u, dual variables (px, py) per field)
        for (int warp = 0; warp < c.Options.Warps; warp++)
        {
            using var scope = recording ? null : new TensorScope();
            state = recording && c.Checkpoint
                ? Checkpoint.Run(xs => Warp(xs[0], xs[1], xs[2], c, iterations), new[] { state, i0, stack })
                : Warp(state, i0, stack, c, iterations);
            scope?.Keep(state);
        }
        return state.Narrow(1, 0, k);
    }

    /// <summary>One warp: linearise I1(x + u) around the state's flow u0, then iterate; returns the new state [N, 3K, H, W].</summary>
    private static Tensor Warp(Tensor state, Tensor i0, Tensor stack, Constants c, int iterations)
    {
        int n = i0.Size(0), h = i0.Size(2), w = i0.Size(3), k = c.Channels;
        var flow0 = state.Narrow(1, 0, 2);
        var warped = Ops.Warp(stack, flow0, GridPadding.Border); // [N, 3, H, W]
        var i1w = warped.Narrow(1, 0, 1);
        var grad = warped.Narrow(1, 1, 2); // [N, 2, H, W]
        var rhoC = i1w.Sub(i0).Sub(grad.Mul(flow0).Sum(1, keepDim: true)); // [N, 1, H, W]
        var ig = k == 2 ? grad : Ops.Concat(new[] { grad, Tensor.Full(c.Options.Gamma, n, 1, h, w) }, 1); // [N, K, H, W]
        var invThreshold = ig.Square().Sum(1, keepDim: true).AddScalar(1e-6f).MulScalar(c.LambdaTheta).RDiv(1f); // 1 / (lambda theta |grad I|^2)
        return TvL1Iterations.Run(state, rhoC, ig, invThreshold, c.Iterations, iterations);
    }

    /// <summary>
    /// <paramref name="iterations"/> TV-L1 primal-dual steps on state = (u [K], p [2K]) stacked on the
    /// channel axis, for the residual rho(u) = rhoC + grad I . u; returns the new state. The plain composition of
    /// engine ops that <see cref="TvL1Iterations"/> fuses: kept as its reference (tests compare values and gradients).
    /// </summary>
    internal static Tensor IterateComposed(ClassicalFlowOptions options, Tensor state, Tensor rhoC, Tensor ig, Tensor invThreshold, int iterations) =>
        Iterate(state, rhoC, ig, invThreshold, new Constants(options, checkpoint: false), iterations);

    private static Tensor Iterate(Tensor state, Tensor rhoC, Tensor ig, Tensor invThreshold, Constants c, int iterations)
    {
        int n = state.Size(0), h = state.Size(2), w = state.Size(3), k = c.Channels;
        bool recording = GradMode.IsEnabled && (state.RequiresGrad || rhoC.RequiresGrad || ig.RequiresGrad || invThreshold.RequiresGrad);
        var u = state.Narrow(1, 0, k);
        var p = state.Narrow(1, k, 2 * k);
        var step = ig.MulScalar(c.LambdaTheta);
        for (int it = 0; it < iterations; it++)
        {
            using var scope = recording ? null : new TensorScope();
            var rho = rhoC.Add(ig.Mul(u).Sum(1, keepDim: true)); // [N, 1, H, W]: the linearised residual
            var v = u.Sub(rho.Mul(invThreshold).Clamp(-1f, 1f).Mul(step)); // thresholding step
            u = v.Add(Divergence(p, c)); // u = v + theta div p
            var gu = ForwardGradient(u, c); // (tau / theta) grad u: [N, 2K, H, W]
            var mag = gu.Reshape(n, k, 2, h, w).Square().Sum(2, keepDim: true).AddScalar(1e-8f).Sqrt().AddScalar(1f); // [N, K, 1, H, W]
            p = p.Add(gu).Reshape(n, k, 2, h, w).Div(mag).Reshape(n, 2 * k, h, w);
            scope?.Keep(u, p);
        }
        return Ops.Concat(new[] { u, p }, 1);
    }
}
