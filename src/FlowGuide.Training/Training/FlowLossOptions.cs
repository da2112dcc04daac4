using FlowGuide.Models.Flow;

namespace FlowGuide.Training;

/// <summary>How FlowLoss combines the flow-matching (reconstruction) loss with the flow term, per sample of noise scale sigma.</summary>
public enum FlowLossWeighting
{
    /// <summary>
    /// The paper's main objective: <c>L = L_recon + w_psi(sigma) L_flow</c> with the hard gate
    /// <c>w_psi(sigma) = 1 / (sigma^2 + 1)</c> if <c>sigma &lt; psi</c>, else 0. Flow is computed only for samples the gate passes.
    /// </summary>
    HardGate,

    /// <summary>
    /// Weighted average emphasising small sigma (the paper's <c>w_ss</c>): <c>L = (1 - w) L_recon + w L_flow</c> with
    /// <c>w = 1 / (sigma^2 + 1)</c>, which tends to 1 on clean inputs and to 0 on noisy ones. No gate: every sample's flow is computed.
    /// </summary>
    SmallSigma,

    /// <summary>
    /// Weighted average emphasising large sigma (the paper's <c>w_ls</c>, found to cause flicker):
    /// <c>w = sigma^2 / (sigma^2 + 1)</c>, the mirror of <see cref="SmallSigma"/>. No gate.
    /// </summary>
    LargeSigma,
}

/// <summary>Where the ground-truth side of the flow comparison comes from.</summary>
public enum FlowTargetSource
{
    /// <summary>The same differentiable estimator run (without gradients) on the ground-truth video, as in the paper.</summary>
    Estimated,

    /// <summary>The motion world's exact flow of the clip (no estimator error on the target side).</summary>
    World,
}

/// <summary>Where the ground truth's occlusion mask (which pixels weigh <see cref="FlowLossOptions.OccludedWeight"/>) comes from.</summary>
public enum OcclusionSource
{
    /// <summary>The motion world's exact occlusion masks (a point seen at frame t hidden or out of frame at t + 1).</summary>
    World,

    /// <summary>
    /// A forward-backward consistency check on the estimated ground-truth flows (<see cref="FlowTools.ForwardBackwardOcclusion"/>
    /// with Sundaram's constants 0.01 and 0.5); costs one extra flow estimate per frame pair of the target.
    /// </summary>
    ForwardBackward,
}

/// <summary>
/// Settings of <see cref="FlowLoss"/> (methods.md section 4). Defaults follow the paper where it gives a value: occluded
/// pixels weigh 0.3, <c>s = 1e-6</c>, EDM weighting <c>lambda(sigma) = (sigma^2 + 1) / sigma^2</c> with
/// <c>sigma = t / (1 - t)</c>. The paper gives no number for psi; the default 0.5 lets about a quarter of the samples
/// through under the trainer's logit-normal t (ln sigma = the normal draw, so P(sigma &lt; psi) = Phi(ln psi)).
/// </summary>
public sealed record FlowLossOptions
{
    /// <summary>The estimator settings used unless told otherwise: the library defaults with 3 warps of 20 iterations (10 at the finest level), as the metrics use.</summary>
    public static ClassicalFlowOptions FastEstimator { get; } = ClassicalFlowOptions.Default with { Warps = 3, Iterations = 20, FinestIterations = 10 };

    /// <summary>
    /// <see cref="FastEstimator"/> with every warp checkpointed: inside a training step all intermediates stay alive until
    /// the step's tensor scope ends, so only each warp's input state is kept on the tape (16 pairs at 64x64: 53 MiB peak
    /// for forward + backward; see docs/benchmarks.md).
    /// </summary>
    public static ClassicalFlowOptions TrainingEstimator { get; } = FastEstimator with { CheckpointWarps = true };

    public FlowLossWeighting Weighting { get; init; } = FlowLossWeighting.HardGate;

    /// <summary>Gate threshold psi on the EDM sigma (only <see cref="FlowLossWeighting.HardGate"/>): flow counts where sigma &lt; psi.</summary>
    public double Psi { get; init; } = 0.5;

    /// <summary>
    /// The global scale s of the flow term (paper: 1e-6 for sums over 384x256 frames). The term sums squared flow errors
    /// over pixels and frame pairs, so s should be tuned per resolution until both loss terms are of the same order.
    /// </summary>
    public double Scale { get; init; } = 1e-6;

    /// <summary>Weight o of occluded pixels (visible pixels weigh 1).</summary>
    public float OccludedWeight { get; init; } = 0.3f;

    public FlowTargetSource Target { get; init; } = FlowTargetSource.Estimated;

    public OcclusionSource Occlusion { get; init; } = OcclusionSource.World;

    /// <summary>Settings of the differentiable <see cref="ClassicalFlow"/> run on the prediction (and on the target when estimated).</summary>
    public ClassicalFlowOptions Estimator { get; init; } = TrainingEstimator;

    /// <summary>
    /// Run the decode of the prediction and its flow estimate as checkpointed segments (<see cref="FlowGuide.Tensors.Checkpoint"/>):
    /// their intermediates go back to the pool as soon as each is computed and are recomputed during backward, instead of
    /// living until the training step's scope ends. Costs one more forward of each; saves most of the flow term's memory.
    /// </summary>
    public bool CheckpointSegments { get; init; } = true;

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Weighting)) throw new ArgumentException($"FlowLossOptions: unknown weighting {Weighting}.");
        if (!Enum.IsDefined(Target)) throw new ArgumentException($"FlowLossOptions: unknown target source {Target}.");
        if (!Enum.IsDefined(Occlusion)) throw new ArgumentException($"FlowLossOptions: unknown occlusion source {Occlusion}.");
        if (!(Psi > 0)) throw new ArgumentException($"FlowLossOptions: psi must be positive, got {Psi}.");
        if (!(Scale > 0) || double.IsInfinity(Scale)) throw new ArgumentException($"FlowLossOptions: scale s must be positive and finite, got {Scale}.");
        if (!(OccludedWeight >= 0 && OccludedWeight <= 1)) throw new ArgumentException($"FlowLossOptions: the occluded-pixel weight must be in [0, 1], got {OccludedWeight}.");
        if (Occlusion == OcclusionSource.ForwardBackward && Target == FlowTargetSource.World)
            throw new ArgumentException("FlowLossOptions: the forward-backward occlusion check needs estimated target flows; with the world's flow use the world's occlusion.");
        ArgumentNullException.ThrowIfNull(Estimator, nameof(Estimator));
        Estimator.Validate();
    }
}
