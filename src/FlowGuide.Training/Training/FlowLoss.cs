using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Training;

/// <summary>Ground-truth motion of a batch of clips for <see cref="FlowLoss"/>.</summary>
/// <param name="Flow">[B, F-1, 2, H, W]: forward flow (u, v) in pixels from frame t to t + 1 (no gradient needed).</param>
/// <param name="Occlusion">[B, F-1, H, W]: 1 where the pixel of frame t is occluded at t + 1, 0 where visible.</param>
public sealed record FlowTarget(Tensor Flow, Tensor Occlusion);

/// <summary>What <see cref="FlowLoss.Apply"/> computed for one batch.</summary>
/// <param name="Loss">Scalar to differentiate: the batch mean of <c>a(sigma) L_recon + w(sigma) L_flow</c>.</param>
/// <param name="Reconstruction">Batch mean of the unweighted per-sample reconstruction loss (comparable across weightings).</param>
/// <param name="FlowTerm">Batch mean of <c>w(sigma) L_flow</c>, the flow term's contribution to <see cref="Loss"/> (0 when nothing passed).</param>
/// <param name="Passed">Batch indices whose flow was computed (those with w(sigma) &gt; 0), ascending.</param>
/// <param name="FlowEpe">Mean endpoint error in pixels between predicted and target flow over the passed samples (NaN when none passed).</param>
public sealed record FlowLossResult(Tensor Loss, double Reconstruction, double FlowTerm, int[] Passed, double FlowEpe);

/// <summary>
/// FlowLoss (Ota and Kanezaki 2025; methods.md section 4), a noise-aware optical-flow loss for training a video
/// denoiser. For a sample at flow-matching noise level t, with EDM noise scale <c>sigma = t / (1 - t)</c>:
/// <c>L_flow = s lambda(sigma) sum_(t, pixels) o(alpha) |f(y) - f(yhat)|^2</c>, <c>lambda(sigma) = (sigma^2 + 1) / sigma^2</c>,
/// o = 1 on visible pixels and <see cref="FlowLossOptions.OccludedWeight"/> on occluded ones, flows f between consecutive
/// frames from a differentiable estimator (<see cref="ClassicalFlow"/> by default) on the prediction yhat and on the
/// ground truth y (or the world's exact flow). The sample's loss is <c>a(sigma) L_recon + w(sigma) L_flow</c>, with
/// (a, w) set by <see cref="FlowLossOptions.Weighting"/>; see <see cref="ReconstructionWeight"/> and <see cref="FlowWeight"/>.
/// </summary>
/// <remarks>
/// The squared error is summed over pixels and frame pairs (as the paper writes it) and averaged over the batch. Flow is
/// estimated only for the samples whose flow weight is positive: under the hard gate, a batch where every sigma is at
/// least psi never calls the estimator nor the caller's decoder.
/// </remarks>
public sealed class FlowLoss
{
    private readonly Func<Tensor, Tensor, Tensor> _estimate;

    /// <summary>
    /// Creates the loss. <paramref name="estimator"/> maps frame batches (frame1, frame2), each [N, 3, H, W] in [-1, 1],
    /// to flows [N, 2, H, W] and must be differentiable in frame1 and frame2; by default a <see cref="ClassicalFlow"/>
    /// with <see cref="FlowLossOptions.Estimator"/>.
    /// </summary>
    public FlowLoss(FlowLossOptions? options = null, Func<Tensor, Tensor, Tensor>? estimator = null)
    {
        Options = options ?? new FlowLossOptions();
        Options.Validate();
        _estimate = estimator ?? new ClassicalFlow(Options.Estimator).Estimate;
    }

    public FlowLossOptions Options { get; }

    // ---------------------------------------------------------------- noise-level weights

    /// <summary>EDM noise scale of flow-matching noise level t: z_t / (1 - t) = z0 + (t / (1 - t)) eps, so sigma = t / (1 - t).</summary>
    public static double Sigma(double t)
    {
        if (!(t > 0 && t < 1)) throw new ArgumentOutOfRangeException(nameof(t), $"FlowLoss.Sigma: noise level t must be in (0, 1), got {t}.");
        return t / (1 - t);
    }

    /// <summary>EDM's loss weight lambda(sigma) = (sigma^2 + 1) / sigma^2.</summary>
    public static double EdmLambda(double sigma)
    {
        CheckSigma(sigma);
        return (sigma * sigma + 1) / (sigma * sigma);
    }

    /// <summary>The hard gate w_psi(sigma) = 1 / (sigma^2 + 1) if sigma &lt; psi, else 0.</summary>
    public static double GateWeight(double sigma, double psi)
    {
        CheckSigma(sigma);
        return sigma < psi ? 1 / (sigma * sigma + 1) : 0;
    }

    /// <summary>w_ss(sigma) = 1 / (sigma^2 + 1): 1 on clean inputs, 0.5 at sigma = 1, towards 0 on noisy ones.</summary>
    public static double SmallSigmaWeight(double sigma)
    {
        CheckSigma(sigma);
        return 1 / (sigma * sigma + 1);
    }

    /// <summary>w_ls(sigma) = sigma^2 / (sigma^2 + 1) = 1 - w_ss(sigma): 0 on clean inputs, towards 1 on noisy ones.</summary>
    public static double LargeSigmaWeight(double sigma)
    {
        CheckSigma(sigma);
        return 1 / (1 + 1 / (sigma * sigma));
    }

    /// <summary>The weight w(sigma) of the flow term under <see cref="FlowLossOptions.Weighting"/>.</summary>
    public double FlowWeight(double sigma) => Options.Weighting switch
    {
        FlowLossWeighting.HardGate => GateWeight(sigma, Options.Psi),
        FlowLossWeighting.SmallSigma => SmallSigmaWeight(sigma),
        _ => LargeSigmaWeight(sigma),
    };

    /// <summary>The weight of the reconstruction term: 1 under the hard gate, 1 - w(sigma) for the weighted averages.</summary>
    public double ReconstructionWeight(double sigma) =>
        Options.Weighting == FlowLossWeighting.HardGate ? 1 : 1 - FlowWeight(sigma);

    private static void CheckSigma(double sigma)
    {
        if (!(sigma > 0) || double.IsInfinity(sigma))
            throw new ArgumentOutOfRangeException(nameof(sigma), $"FlowLoss: sigma must be positive and finite, got {sigma}.");
    }

    // ---------------------------------------------------------------- flows and the flow term

    /// <summary>
    /// Flows between consecutive frames of videos [B, 3, F, H, W]: returns [B, F-1, 2, H, W], (u, v) in pixels from frame
    /// t to t + 1 (from t + 1 to t when <paramref name="backward"/>). One estimator call for all B (F - 1) pairs;
    /// differentiable when the video requires gradients.
    /// </summary>
    public Tensor EstimateFlows(Tensor video, bool backward = false)
    {
        ArgumentNullException.ThrowIfNull(video);
        if (video.Rank != 5 || video.Size(1) != 3 || video.Size(2) < 2)
            throw new ArgumentException($"FlowLoss: video has shape {video.Shape}, expected [B, 3, F, H, W] with at least 2 frames.", nameof(video));
        int b = video.Size(0), f = video.Size(2), h = video.Size(3), w = video.Size(4);
        Tensor Frames(int start) => video.Narrow(2, start, f - 1).Permute(0, 2, 1, 3, 4).Reshape(b * (f - 1), 3, h, w); // [B(F-1), 3, H, W]
        var first = Frames(0);
        var second = Frames(1);
        var flow = backward ? _estimate(second, first) : _estimate(first, second);
        if (flow.Rank != 4 || flow.Size(0) != b * (f - 1) || flow.Size(1) != 2 || flow.Size(2) != h || flow.Size(3) != w)
            throw new InvalidOperationException($"FlowLoss: the estimator returned {flow.Shape} for {b * (f - 1)} pairs of {h}x{w}, expected [{b * (f - 1)}, 2, {h}, {w}].");
        return flow.Reshape(b, f - 1, 2, h, w); // [B, F-1, 2, H, W]
    }

    /// <summary>
    /// Target of a ground-truth video [B, 3, F, H, W] without the world's flow: estimated flows (no gradient) and the
    /// occlusion from <paramref name="worldOcclusion"/> ([B, F-1, H, W]) or, when that is null, from a forward-backward check.
    /// </summary>
    public FlowTarget EstimateTarget(Tensor video, Tensor? worldOcclusion)
    {
        using var _ = GradMode.NoGrad();
        var forward = EstimateFlows(video);
        int b = forward.Size(0), pairs = forward.Size(1), h = forward.Size(3), w = forward.Size(4);
        if (worldOcclusion is not null) return new FlowTarget(forward, worldOcclusion);
        var back = EstimateFlows(video, backward: true);
        var occ = FlowTools.ForwardBackwardOcclusion(forward.Reshape(b * pairs, 2, h, w), back.Reshape(b * pairs, 2, h, w), 0.01f, 0.5f);
        return new FlowTarget(forward, occ.Reshape(b, pairs, h, w));
    }

    /// <summary>
    /// Per-sample occlusion-weighted squared flow error, <c>sum_(t, pixels) o |flow - target|^2</c> for flows
    /// [B, F-1, 2, H, W] and occlusion [B, F-1, H, W] (1 = occluded): returns [B], differentiable in <paramref name="flow"/>.
    /// </summary>
    public Tensor WeightedSquaredError(Tensor flow, FlowTarget target)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(target);
        if (flow.Rank != 5 || flow.Size(2) != 2)
            throw new ArgumentException($"FlowLoss: flow has shape {flow.Shape}, expected [B, F-1, 2, H, W].", nameof(flow));
        if (target.Flow.Shape != flow.Shape)
            throw new ArgumentException($"FlowLoss: target flow has shape {target.Flow.Shape}, expected {flow.Shape} like the predicted flow.", nameof(target));
        int b = flow.Size(0), p = flow.Size(1), h = flow.Size(3), w = flow.Size(4);
        if (target.Occlusion.Numel != b * p * h * w)
            throw new ArgumentException($"FlowLoss: occlusion has shape {target.Occlusion.Shape}, expected [{b}, {p}, {h}, {w}].", nameof(target));
        var o = target.Occlusion.Detach().Reshape(b, p, h, w).MulScalar(Options.OccludedWeight - 1f).AddScalar(1f); // 1 visible, o occluded
        var sq = flow.Sub(target.Flow.Detach()).Square().Sum(2);                                                 // [B, F-1, H, W]
        return sq.Mul(o).Sum(new[] { 1, 2, 3 });                                                                 // [B]
    }

    /// <summary>
    /// <c>L_flow = s lambda(sigma_b) WeightedSquaredError_b</c> per sample, [B], for a predicted video [B, 3, F, H, W]
    /// (its flows are estimated here, differentiably) against <paramref name="target"/>.
    /// </summary>
    public Tensor Compute(Tensor predictedVideo, FlowTarget target, IReadOnlyList<double> sigma)
    {
        ArgumentNullException.ThrowIfNull(sigma);
        if (sigma.Count != predictedVideo.Size(0))
            throw new ArgumentException($"FlowLoss: {sigma.Count} noise scales for a batch of {predictedVideo.Size(0)} videos.", nameof(sigma));
        var err = WeightedSquaredError(EstimateFlows(predictedVideo), target);
        var k = Tensor.FromArray(sigma.Select(s => (float)(Options.Scale * EdmLambda(s))).ToArray(), sigma.Count);
        return err.Mul(k);
    }

    /// <summary>
    /// The training objective for one batch: <c>mean_b [a(sigma_b) recon_b + w(sigma_b) L_flow_b]</c>. Only the samples
    /// with w &gt; 0 are handed to <paramref name="predictedVideos"/> (which decodes the predicted clean videos of those
    /// batch indices, differentiably) and to <paramref name="targets"/> (their ground truth); when none passes neither is
    /// called and no flow is estimated.
    /// </summary>
    /// <param name="reconstruction">[B] per-sample reconstruction (flow-matching) loss, differentiable.</param>
    /// <param name="t">Flow-matching noise level of each sample, in (0, 1).</param>
    /// <param name="predictedVideos">Batch indices -> predicted videos [B', 3, F, H, W] in that order.</param>
    /// <param name="targets">Batch indices -> their <see cref="FlowTarget"/>.</param>
    public FlowLossResult Apply(Tensor reconstruction, IReadOnlyList<float> t, Func<int[], Tensor> predictedVideos, Func<int[], FlowTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(reconstruction);
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(predictedVideos);
        ArgumentNullException.ThrowIfNull(targets);
        int b = t.Count;
        if (reconstruction.Rank != 1 || reconstruction.Size(0) != b)
            throw new ArgumentException($"FlowLoss.Apply: reconstruction loss has shape {reconstruction.Shape}, expected [{b}] (one value per sample).", nameof(reconstruction));

        // 1. noise scales and the two weights per sample
        var sigma = t.Select(x => Sigma(x)).ToArray();
        var a = sigma.Select(s => (float)ReconstructionWeight(s)).ToArray();
        var w = sigma.Select(FlowWeight).ToArray();
        var passed = Enumerable.Range(0, b).Where(i => w[i] > 0).ToArray();

        // 2. reconstruction term (unweighted mean kept for logging)
        double reconMean;
        using (GradMode.NoGrad()) reconMean = reconstruction.Detach().Mean().Item();
        var total = reconstruction.Mul(Tensor.FromArray(a, b)).Sum();
        if (passed.Length == 0) return new FlowLossResult(total.MulScalar(1f / b), reconMean, 0, passed, double.NaN);

        // 3. flow term on the passed samples only
        var video = predictedVideos(passed);
        if (video.Rank != 5 || video.Size(0) != passed.Length)
            throw new InvalidOperationException($"FlowLoss.Apply: the decoder returned {video.Shape} for {passed.Length} samples, expected [{passed.Length}, 3, F, H, W].");
        var target = targets(passed);
        var flow = Options.CheckpointSegments && video.RequiresGrad && GradMode.IsEnabled
            ? Checkpoint.Run(xs => EstimateFlows(xs[0]), new[] { video })
            : EstimateFlows(video);
        var err = WeightedSquaredError(flow, target);                                                       // [B']
        var k = Tensor.FromArray(passed.Select(i => (float)(w[i] * Options.Scale * EdmLambda(sigma[i]))).ToArray(), passed.Length);
        var flowTerm = err.Mul(k).Sum();
        double flowMean = flowTerm.Detach().Item() / b;
        return new FlowLossResult(total.Add(flowTerm).MulScalar(1f / b), reconMean, flowMean, passed, MeanEpe(flow, target.Flow));
    }

    private static double MeanEpe(Tensor flow, Tensor target)
    {
        var f = flow.Span;
        var g = target.Span;
        int plane = flow.Size(3) * flow.Size(4), fields = flow.Numel / (2 * plane);
        double sum = 0;
        for (int k = 0; k < fields; k++)
            for (int i = 0; i < plane; i++)
            {
                int iu = 2 * k * plane + i, iv = iu + plane;
                double du = f[iu] - g[iu], dv = f[iv] - g[iv];
                sum += Math.Sqrt(du * du + dv * dv);
            }
        return sum / ((double)fields * plane);
    }
}
