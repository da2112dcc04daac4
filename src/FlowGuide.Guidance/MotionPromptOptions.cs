using FlowGuide.Models.Flow;
using FlowGuide.Sampling;

namespace FlowGuide.Guidance;

/// <summary>How the learnable token embeddings are updated along the loss gradient.</summary>
public enum MotionPromptOptimizer
{
    /// <summary>
    /// Adam (betas 0.9/0.999, eps 1e-8) created at the window's first step and kept through the window, so the tokens
    /// and their moments carry from step to step (the paper's tokens evolve over the sampling steps).
    /// </summary>
    Adam,
    /// <summary>Plain gradient descent <c>T &lt;- T - lr * g</c>.</summary>
    GradientDescent,
}

/// <summary>How the total-variation term sums over the flow's pixels.</summary>
public enum TvReduction
{
    /// <summary><c>sum_ij |f_ij - f_(i+1)j| + |f_ij - f_i(j+1)|</c> over both channels, as methods.md writes it.</summary>
    Sum,
    /// <summary>The same differences averaged over their count (the usual TV-loss code; independent of resolution).</summary>
    Mean,
}

/// <summary>
/// Settings of <see cref="MotionPromptHook"/>. Defaults are the paper's AnimateDiff column of its hyper-parameter table
/// (the configuration its ablations start from): 1 token initialised from "authentic", K = 3 iterations per guided step,
/// 3 &lt; t &lt; 15 of 50 (steps 4..14), 1 frame pair (2 decoded frames), l1 = 1, l2 = 5, l3 = 10, lr = 0.005. The paper's other models
/// used windows 5..15 and 3..20, 3 pairs, l2 in {1, 5}, l3 in {3, 10}, lr in {5e-4, 1e-3, 5e-3}.
/// </summary>
public sealed record MotionPromptOptions
{
    /// <summary>
    /// Guided steps. Default: fractions [0.08, 0.30), steps 4..14 of 50 — the paper's "3 &lt; t &lt; 15", strict at both
    /// ends (11 of 50 steps, 22%) — scaling with the step count (steps 2..5 of 20).
    /// </summary>
    public StepWindow Window { get; init; } = DefaultWindow;

    /// <summary>The paper's AnimateDiff window, 3 &lt; t &lt; 15 of 50 (steps 4..14), as a fraction window.</summary>
    public static StepWindow DefaultWindow { get; } = StepWindow.Fractions(4.0 / 50, 15.0 / 50);

    /// <summary>Learnable tokens appended to the end of the prompt (the paper: 1; 3 gave little more).</summary>
    public int TokenCount { get; init; } = 1;

    /// <summary>The word whose embedding initialises every learnable token (the paper: "authentic").</summary>
    public string InitWord { get; init; } = "authentic";

    /// <summary>
    /// Used instead of <see cref="InitWord"/> when the text encoder's vocabulary lacks it (FlowGuide's closed motion-world
    /// vocabulary has no "authentic"): "the", the paper's robustness ablation, which still beat the baseline. Null: a
    /// missing <see cref="InitWord"/> is an error.
    /// </summary>
    public string? FallbackInitWord { get; init; } = "the";

    /// <summary>Optimisation iterations K per guided step (each: one differentiated CFG forward, partial decode, flows, backward).</summary>
    public int Iterations { get; init; } = 3;

    /// <summary>Frame pairs (f, f + 1) decoded and scored per iteration, drawn without repeats (the paper: 1 or 3).</summary>
    public int FramePairs { get; init; } = 1;

    /// <summary>l1: weight of the discriminator term log(1 - phi(flow)).</summary>
    public double DiscriminatorWeight { get; init; } = 1.0;

    /// <summary>l2: weight of the total variation of the flow.</summary>
    public double TvWeight { get; init; } = 5.0;

    /// <summary>l3: weight of |T - T0|^2, which keeps the tokens near their initial embedding.</summary>
    public double RegularizationWeight { get; init; } = 10.0;

    /// <summary>Step size of the token update.</summary>
    public double LearningRate { get; init; } = 5e-3;

    public MotionPromptOptimizer Optimizer { get; init; } = MotionPromptOptimizer.Adam;

    public TvReduction Tv { get; init; } = TvReduction.Sum;

    /// <summary>
    /// Settings of the differentiable <see cref="ClassicalFlow"/> used on the decoded pairs. Null: those the discriminator
    /// was trained with (its <see cref="FlowDiscriminator.TrainingInfo"/>), else <see cref="ClassicalFlowOptions.Default"/>.
    /// Ignored when the hook is given its own flow estimator.
    /// </summary>
    public ClassicalFlowOptions? Flow { get; init; }

    /// <summary>
    /// During the differentiated call, the fraction of the transformer's blocks that run checkpointed, counted from the
    /// first and rounded up, on a model with per-block checkpointing (<see cref="FlowGuide.Models.Wan.WanTransformer3D.CheckpointBlocks"/>;
    /// restored afterwards): 0 none, 1 every block. A checkpointed block holds only its input instead of its
    /// activations, for one more forward of it in the backward pass; the gradient is the same either way. Default 0,
    /// chosen by measurement (docs/benchmarks.md): since the backward pass gives gradient buffers back as it goes, the
    /// shipped model with no block checkpointed peaks at 2.3x plain generation's memory (issue 10 allows 2.5x) and is
    /// the fastest setting. Raise it for larger videos or models (Wan2.1 1.3B: 1), where the blocks' activations
    /// outgrow the rest of the peak.
    /// </summary>
    public double CheckpointFraction { get; init; }

    /// <summary>
    /// Hand the loop the step's guided velocity with the optimised prompt, computed from the unconditional velocity the
    /// hook already has and one untaped conditional pass, instead of letting the loop run its own CFG pair: one
    /// unconditional model pass less per guided step. The velocity is the one the loop would compute (same model, latent,
    /// timestep, prompts and scale, combined in <see cref="CfgVelocity"/>'s order) up to the float rounding of a model
    /// batch of one against the loop's batch of two. A later hook that replaces the latent drops it (the loop then calls
    /// the model itself).
    /// </summary>
    public bool ReuseVelocity { get; init; } = true;

    /// <summary>
    /// Differentiate the ClassicalFlow estimate with each warp checkpointed (recomputed in the backward pass): the same
    /// gradient for about one more flow forward. Off by default: the estimator's iterations are one fused op that keeps
    /// no per-iteration tape, so at 64x64 checkpointing saves 4 MiB (3.5 against 7.5 MiB peak) and costs 2.4 ms per
    /// iteration (14.4 against 12.1 ms forward + backward, bench <c>mp-profile</c>).
    /// </summary>
    public bool CheckpointFlow { get; init; }

    /// <summary>
    /// A causal video VAE decodes a pair only after running the latent frames before it (their causal history). False
    /// (default) runs that history without a tape, so the gradient reaches T only through the latent frames the pair is
    /// decoded from — as with the per-frame image decoders of the paper's models — and the history's activations are not
    /// kept. True also differentiates through the history: the exact gradient, for the memory of every earlier chunk.
    /// Values are the same either way.
    /// </summary>
    public bool DecoderHistoryGradient { get; init; }

    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Window, nameof(Window));
        if (TokenCount < 1) throw new ArgumentException($"MotionPromptOptions: TokenCount must be at least 1, got {TokenCount}.");
        if (string.IsNullOrWhiteSpace(InitWord)) throw new ArgumentException("MotionPromptOptions: InitWord is empty.");
        if (FallbackInitWord is { } f && string.IsNullOrWhiteSpace(f)) throw new ArgumentException("MotionPromptOptions: FallbackInitWord is empty (use null for none).");
        if (Iterations < 1) throw new ArgumentException($"MotionPromptOptions: Iterations must be at least 1, got {Iterations}.");
        if (FramePairs < 1) throw new ArgumentException($"MotionPromptOptions: FramePairs must be at least 1, got {FramePairs}.");
        foreach (var (name, v) in new[] { ("DiscriminatorWeight", DiscriminatorWeight), ("TvWeight", TvWeight), ("RegularizationWeight", RegularizationWeight) })
            if (!(v >= 0) || double.IsInfinity(v)) throw new ArgumentException($"MotionPromptOptions: {name} must be non-negative and finite, got {v}.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentException($"MotionPromptOptions: LearningRate must be positive and finite, got {LearningRate}.");
        if (!(CheckpointFraction >= 0 && CheckpointFraction <= 1)) throw new ArgumentException($"MotionPromptOptions: CheckpointFraction must lie in [0, 1] (0: no block checkpointed, 1: every block), got {CheckpointFraction}.");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"MotionPromptOptions: unknown optimizer {Optimizer}.");
        if (!Enum.IsDefined(Tv)) throw new ArgumentException($"MotionPromptOptions: unknown TV reduction {Tv}.");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1))
            throw new ArgumentException($"MotionPromptOptions: Adam betas must lie in [0, 1), got ({Beta1}, {Beta2}).");
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon)) throw new ArgumentException($"MotionPromptOptions: Epsilon must be non-negative and finite, got {Epsilon}.");
        Flow?.Validate();
    }
}
