using FlowGuide.Models.Video;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>Settings of <see cref="MotionClassifierHook"/>.</summary>
public sealed record MotionGuidanceOptions
{
    /// <summary>Guidance strength lambda (0 turns the hook into a no-op).</summary>
    public double Scale { get; init; } = 1.0;
    /// <summary>Steps the hook runs on: the early, high-noise part where the motion is decided.</summary>
    public StepWindow Window { get; init; } = DefaultWindow;
    /// <summary>The first 80% of the steps (with the shipped model's 20 steps at shift 3: down to sigma 0.43).</summary>
    public static StepWindow DefaultWindow { get; } = StepWindow.Fractions(0, 0.8);
    /// <summary>Cap on the weight sigma / (1 - sigma), which is infinite at sigma = 1.</summary>
    public double MaxWeight { get; init; } = 10;

    /// <summary>Throws an ArgumentException naming the first setting out of range.</summary>
    public void Validate()
    {
        if (!(Scale >= 0) || double.IsInfinity(Scale)) throw new ArgumentException($"MotionGuidanceOptions: Scale must be finite and >= 0, got {Scale}.");
        if (!(MaxWeight > 0) || double.IsInfinity(MaxWeight)) throw new ArgumentException($"MotionGuidanceOptions: MaxWeight must be positive and finite, got {MaxWeight}.");
        ArgumentNullException.ThrowIfNull(Window);
    }
}

/// <summary>What a prompt asks the classifier for: a class name, and for a conditional classifier the subject it is about.</summary>
/// <param name="Class">One of the classifier's class names.</param>
/// <param name="Subject">One of its subject names (for the motion world: the subject's colour), or null for an unconditional classifier.</param>
public readonly record struct MotionTarget(string Class, string? Subject);

/// <summary>One guided step as it happened.</summary>
/// <param name="Step">Sampling step index.</param>
/// <param name="Sigma">Noise level of the latent the classifier read.</param>
/// <param name="Probability">The classifier's p(asked class | z_t) before the step.</param>
/// <param name="GradientRms">RMS of d log p / d z_t.</param>
public sealed record MotionGuidanceStepRecord(int Step, double Sigma, double Probability, double GradientRms);

/// <summary>
/// Classifier guidance for motion: a noise-aware <see cref="LatentMotionClassifier"/> scores the current latent z_t, and
/// the velocity is moved along the gradient of log p(asked motion | z_t). With z_t = (1 - s)·x0 + s·eps, the score of the
/// guided distribution p(z_t)·p(y | z_t)^lambda is the model's plus lambda·grad log p(y | z_t); written as a velocity
/// (v = (z_t - x0_hat) / s and score = -eps_hat / s) the change is
/// <c>v' = v - lambda · s / (1 - s) · grad_z log p(y | z_t)</c>, so a sampler step from s to s - ds moves the latent
/// by <c>+lambda · ds · s / (1 - s) · grad</c>, towards videos the classifier reads as the asked motion. s / (1 - s) is
/// capped at <see cref="MotionGuidanceOptions.MaxWeight"/>. One classifier forward and backward per guided step; the video
/// model is not differentiated. The asked class comes from a function of the run's prompt (the motion world's caption
/// grammar for the shipped model); a prompt it cannot read leaves the run unguided. A conditional classifier is also told
/// the subject the prompt is about (its colour), so the gradient moves that shape and not its companions.
/// </summary>
public sealed class MotionClassifierHook : GuidanceHook
{
    private readonly List<MotionGuidanceStepRecord> _history = new();
    private readonly Func<string?, MotionTarget?> _targetOf;

    /// <param name="classifier">The trained classifier (frozen here).</param>
    /// <param name="options">Strength and window.</param>
    /// <param name="targetOf">The prompt → the class (and, for a conditional classifier, subject) to steer towards, or null for none.</param>
    public MotionClassifierHook(LatentMotionClassifier classifier, MotionGuidanceOptions options, Func<string?, MotionTarget?> targetOf)
        : base(Checked(options).Window)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(targetOf);
        Classifier = classifier;
        Options = options;
        _targetOf = targetOf;
    }

    /// <summary>For an unconditional classifier: <paramref name="classOf"/> maps the prompt to a class name, or null for none.</summary>
    public MotionClassifierHook(LatentMotionClassifier classifier, MotionGuidanceOptions options, Func<string?, string?> classOf)
        : this(classifier, options, ClassOnly(classOf))
    {
    }

    private static Func<string?, MotionTarget?> ClassOnly(Func<string?, string?> classOf)
    {
        ArgumentNullException.ThrowIfNull(classOf);
        return p => classOf(p) is { } name ? new MotionTarget(name, null) : null;
    }

    public LatentMotionClassifier Classifier { get; }
    public MotionGuidanceOptions Options { get; }
    /// <summary>Every guided step of every run, in order.</summary>
    public IReadOnlyList<MotionGuidanceStepRecord> History => _history;

    private static MotionGuidanceOptions Checked(MotionGuidanceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    public override Tensor? AfterPrediction(StepContext context, Tensor velocity, Tensor predictedX0)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(velocity);
        if (Options.Scale == 0 || _targetOf(context.Prompt) is not { } target) return null;
        var config = Classifier.Config;
        int label = config.IndexOf(target.Class);
        if (label < 0) throw new ArgumentException($"MotionClassifierHook: the classifier has no class '{target.Class}' (it has: {string.Join(", ", config.Classes)}).");
        int[]? subjects = null;
        if (config.Conditional)
        {
            if (target.Subject is not { } subject)
                throw new ArgumentException("MotionClassifierHook: the classifier is conditional, but no subject was given for the prompt.");
            int si = config.SubjectIndexOf(subject);
            if (si < 0) throw new ArgumentException($"MotionClassifierHook: the classifier has no subject '{subject}' (it has: {string.Join(", ", config.SubjectNames)}).");
            subjects = new[] { si };
        }
        var latent = context.Latent;
        if (latent.Size(0) != 1) throw new ArgumentException($"MotionClassifierHook: expects a batch of one latent, got {latent.Shape}.");
        double sigma = context.Sigma;
        Tensor grad;
        double logp;
        using (GradMode.EnableGrad())
        {
            var z = latent.DetachedLeaf();
            var lp = Classifier.LogProbability(z, Tensor.FromArray(new[] { (float)sigma }, 1), new[] { label }, subjects);
            logp = lp.Item();
            grad = Autograd.Grad(lp, new[] { z })[0];
        }
        double weight = Math.Min(sigma / Math.Max(1 - sigma, 1e-12), Options.MaxWeight);
        var g = grad.Span;
        double ss = 0;
        for (int i = 0; i < g.Length; i++) ss += (double)g[i] * g[i];
        _history.Add(new MotionGuidanceStepRecord(context.Step, sigma, Math.Exp(logp), Math.Sqrt(ss / Math.Max(1, g.Length))));
        using (GradMode.NoGrad())
            return Ops.Sub(velocity, grad.MulScalar((float)(Options.Scale * weight)));
    }
}
