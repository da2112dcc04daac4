using FlowGuide.Sampling;

namespace FlowGuide.Guidance;

/// <summary>What FlowMotion aligns the target's latent prediction with (the source motion representation r_src).</summary>
public enum FlowMotionMode
{
    /// <summary>
    /// The source's own latent prediction at the step's noise level t (the default): fresh noise n,
    /// <c>s_t = (1 - t) x_src + t n</c>, the empty-prompt velocity <c>v_src</c> at s_t, <c>r_src = s_t - t v_src</c>.
    /// One extra model forward (batch 1, no CFG) per guided step; nothing depends on the target latent.
    /// </summary>
    LatentPrediction,
    /// <summary>
    /// The clean source latent itself, <c>r_src = x_src</c>, the same at every step (no extra model call). The authors
    /// recommend it for complex motion; it couples more appearance into the target (weaker text alignment).
    /// </summary>
    CleanLatent,
}

/// <summary>
/// Settings of <see cref="FlowMotionHook"/>. Every default is the released FlowMotion code's
/// (../shared/reference/methods.md section 2): alpha 20, beta 5 (4:1), gamma 0.1, a fresh Adam with lr 0.003 taking 3
/// iterations per guided step, the first 10 of 50 steps guided, both difference alignment and velocity regularization on.
/// </summary>
public sealed record FlowMotionOptions
{
    /// <summary>Source motion representation; see <see cref="FlowMotionMode"/>.</summary>
    public FlowMotionMode Mode { get; init; } = FlowMotionMode.LatentPrediction;

    /// <summary>Weight of the latent alignment loss <c>L_LA = alpha * mean((r_src - r_tgt)^2)</c>.</summary>
    public double Alpha { get; init; } = 20;

    /// <summary>Weight of the difference alignment loss <c>L_DA = beta * mean((D(r_src) - D(r_tgt))^2)</c>.</summary>
    public double Beta { get; init; } = 5;

    /// <summary>
    /// Velocity regularization's attenuation of the velocity component orthogonal (over channels, per latent position)
    /// to the running average velocity: <c>v_reg = proj + gamma * perp</c>. 1 leaves the velocity as it is.
    /// </summary>
    public double Gamma { get; init; } = 0.1;

    /// <summary>Adam's learning rate on the latent.</summary>
    public double LearningRate { get; init; } = 0.003;

    /// <summary>Adam iterations per guided step (each costs one CFG forward without gradient; none goes backward through the model).</summary>
    public int Iterations { get; init; } = 3;

    /// <summary>Guided steps. Default: fractions [0, 0.2), the released first 10 of 50 steps, scaling with the step count.</summary>
    public StepWindow Window { get; init; } = DefaultWindow;

    /// <summary>The released window, the first 10 of 50 steps, as a fraction window.</summary>
    public static StepWindow DefaultWindow { get; } = StepWindow.Fractions(0, 10.0 / 50);

    /// <summary>Off: the ablation "w/o DA" — the loss is latent alignment alone (as if <see cref="Beta"/> were 0).</summary>
    public bool DifferenceAlignment { get; init; } = true;

    /// <summary>Off: the ablation "w/o VR" — the target prediction uses the raw velocity (as if <see cref="Gamma"/> were 1).</summary>
    public bool VelocityRegularization { get; init; } = true;

    /// <summary>Added to <c>|v_avg|^2</c> in the projection's denominator (the released 1e-8).</summary>
    public double ProjectionEpsilon { get; init; } = 1e-8;

    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Window, nameof(Window));
        if (!Enum.IsDefined(Mode)) throw new ArgumentException($"FlowMotionOptions: unknown mode {Mode}.");
        if (!(Alpha >= 0) || double.IsInfinity(Alpha)) throw new ArgumentException($"FlowMotionOptions: Alpha must be non-negative and finite, got {Alpha}.");
        if (!(Beta >= 0) || double.IsInfinity(Beta)) throw new ArgumentException($"FlowMotionOptions: Beta must be non-negative and finite, got {Beta}.");
        if (!(Gamma >= 0) || double.IsInfinity(Gamma)) throw new ArgumentException($"FlowMotionOptions: Gamma must be non-negative and finite, got {Gamma}.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentException($"FlowMotionOptions: LearningRate must be positive and finite, got {LearningRate}.");
        if (Iterations < 1) throw new ArgumentException($"FlowMotionOptions: Iterations must be at least 1, got {Iterations}.");
        if (!(ProjectionEpsilon >= 0) || double.IsInfinity(ProjectionEpsilon))
            throw new ArgumentException($"FlowMotionOptions: ProjectionEpsilon must be non-negative and finite, got {ProjectionEpsilon}.");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1))
            throw new ArgumentException($"FlowMotionOptions: Adam betas must lie in [0, 1), got ({Beta1}, {Beta2}).");
        if (!(AdamEpsilon >= 0) || double.IsInfinity(AdamEpsilon))
            throw new ArgumentException($"FlowMotionOptions: AdamEpsilon must be non-negative and finite, got {AdamEpsilon}.");
    }
}
