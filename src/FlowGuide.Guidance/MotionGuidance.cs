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
    /// <summary>
    /// Initial noises to choose from at the first step (1: no search). Each is carried by a short guided look-ahead down to
    /// <see cref="ProbeSigma"/>, the classifier scores where it got to, and the run continues from the noise it scores best.
    /// </summary>
    public int Candidates { get; init; } = 1;
    /// <summary>Noise level the look-ahead stops at and the candidates are scored at.</summary>
    public double ProbeSigma { get; init; } = 0.5;
    /// <summary>Euler steps of the look-ahead (evenly spaced in sigma).</summary>
    public int LookaheadSteps { get; init; } = 4;
    /// <summary>
    /// Leave a prompt unguided (no guidance, no search) when the classifier's validation accuracy on the asked class
    /// (<c>config.json</c> training.class_accuracy, written by <c>flowguide train classifier</c>) is below this: steering
    /// by a classifier that cannot read the motion moves the video without making it the asked one. 0: guide every class;
    /// a classifier without per-class figures is always trusted.
    /// </summary>
    public double MinClassAccuracy { get; init; }
    /// <summary>Candidates carried through the look-ahead together in one batch: more is faster, fewer holds less memory.</summary>
    public int SearchBatch { get; init; } = 4;

    /// <summary>Throws an ArgumentException naming the first setting out of range.</summary>
    public void Validate()
    {
        if (!(Scale >= 0) || double.IsInfinity(Scale)) throw new ArgumentException($"MotionGuidanceOptions: Scale must be finite and >= 0, got {Scale}.");
        if (!(MaxWeight > 0) || double.IsInfinity(MaxWeight)) throw new ArgumentException($"MotionGuidanceOptions: MaxWeight must be positive and finite, got {MaxWeight}.");
        ArgumentNullException.ThrowIfNull(Window);
        if (Candidates < 1 || Candidates > 64) throw new ArgumentException($"MotionGuidanceOptions: Candidates must be in [1, 64], got {Candidates}.");
        if (!(ProbeSigma > 0 && ProbeSigma < 1)) throw new ArgumentException($"MotionGuidanceOptions: ProbeSigma must be in (0, 1), got {ProbeSigma}.");
        if (!(MinClassAccuracy >= 0 && MinClassAccuracy <= 1)) throw new ArgumentException($"MotionGuidanceOptions: MinClassAccuracy must be in [0, 1], got {MinClassAccuracy}.");
        if (SearchBatch < 1) throw new ArgumentException($"MotionGuidanceOptions: SearchBatch must be positive, got {SearchBatch}.");
        if (LookaheadSteps < 1) throw new ArgumentException($"MotionGuidanceOptions: LookaheadSteps must be positive, got {LookaheadSteps}.");
    }
}

/// <summary>What a prompt asks the classifier for: a class name, and for a conditional classifier the subject it is about.</summary>
/// <param name="Class">One of the classifier's class names.</param>
/// <param name="Subject">One of its subject names (for the motion world: the subject's colour), or null for an unconditional classifier.</param>
public readonly record struct MotionTarget(string Class, string? Subject);

/// <summary>A choice between initial noises as it happened.</summary>
/// <param name="ProbeSigma">Noise level the candidates were scored at.</param>
/// <param name="LogProbabilities">Per candidate (0: the run's own noise, then fresh draws from the run's generator), log p(asked class | look-ahead latent).</param>
/// <param name="Chosen">The candidate the run continued from.</param>
public sealed record MotionCandidateRecord(double ProbeSigma, double[] LogProbabilities, int Chosen);

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
/// <para>
/// With <see cref="MotionGuidanceOptions.Candidates"/> N &gt; 1 the hook also searches over the initial noise (a verifier
/// used for inference-time search): at step 0 it draws N - 1 further noises from the run's generator, carries all N
/// (in batches of <see cref="MotionGuidanceOptions.SearchBatch"/>) down to <see cref="MotionGuidanceOptions.ProbeSigma"/> with a few guided Euler steps, scores each with the
/// classifier, and replaces the run's latent with the best-scoring noise; the run then proceeds as usual from that
/// noise. The search needs the window to contain step 0. Same seed, same choice.
/// </para>
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
    /// <summary>Every noise search of every run, in order.</summary>
    public IReadOnlyList<MotionCandidateRecord> Searches => _searches;
    private readonly List<MotionCandidateRecord> _searches = new();

    private static MotionGuidanceOptions Checked(MotionGuidanceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    /// <summary>The classifier's validation accuracy on <paramref name="className"/> (its config's training.class_accuracy), or null when it has none.</summary>
    public double? ClassAccuracy(string className) =>
        Classifier.TrainingInfo?["class_accuracy"]?[className] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<double>(out var a) ? a : null;

    /// <summary>Whether a run with <paramref name="prompt"/> is steered: a target the classifier reads well enough (and a non-zero strength).</summary>
    public bool Guides(string? prompt) => Options.Scale != 0 && _targetOf(prompt) is { } target && Trusts(target.Class);

    /// <summary>Whether the classifier reads <paramref name="className"/> well enough to steer by (<see cref="MotionGuidanceOptions.MinClassAccuracy"/>).</summary>
    private bool Trusts(string className) =>
        !(Options.MinClassAccuracy > 0 && ClassAccuracy(className) is { } acc && acc < Options.MinClassAccuracy);

    /// <summary>The class and (for a conditional classifier) subject indices the run's prompt asks for, or null for an unguided run.</summary>
    private (int Label, int? Subject)? Resolve(StepContext context)
    {
        if (_targetOf(context.Prompt) is not { } target) return null;
        var config = Classifier.Config;
        int label = config.IndexOf(target.Class);
        if (label < 0) throw new ArgumentException($"MotionClassifierHook: the classifier has no class '{target.Class}' (it has: {string.Join(", ", config.Classes)}).");
        if (!Trusts(target.Class)) return null;
        int? subjectIndex = null;
        if (config.Conditional)
        {
            if (target.Subject is not { } subject)
                throw new ArgumentException("MotionClassifierHook: the classifier is conditional, but no subject was given for the prompt.");
            int si = config.SubjectIndexOf(subject);
            if (si < 0) throw new ArgumentException($"MotionClassifierHook: the classifier has no subject '{subject}' (it has: {string.Join(", ", config.SubjectNames)}).");
            subjectIndex = si;
        }
        return (label, subjectIndex);
    }

    /// <summary>log p(label | z, sigma[, subject]) per item of a batch of latents [B, ...] → [B, 1], recording a graph when gradients are on.</summary>
    private Tensor LogProbabilities(Tensor latent, double sigma, int label, int? subject)
    {
        int b = latent.Size(0);
        var subjects = subject is { } si ? Enumerable.Repeat(si, b).ToArray() : null;
        return Ops.LogSoftmax(Classifier.Forward(latent, Tensor.Full((float)sigma, b), subjects), 1)
            .Gather(1, Enumerable.Repeat(label, b).ToArray(), new[] { b, 1 });
    }

    /// <summary>d/dz of the summed log p(label | z, sigma) over a batch of latents (each item gets its own gradient), and the per-item log p.</summary>
    private (Tensor Grad, double[] LogP) Gradient(Tensor latent, double sigma, int label, int? subject)
    {
        using (GradMode.EnableGrad())
        {
            var z = latent.DetachedLeaf();
            var logp = LogProbabilities(z, sigma, label, subject);
            var values = logp.ToArray().Select(v => (double)v).ToArray();
            return (Autograd.Grad(logp.Sum(), new[] { z })[0], values);
        }
    }

    private double Weight(double sigma) => Math.Min(sigma / Math.Max(1 - sigma, 1e-12), Options.MaxWeight);

    public override LatentUpdate? BeforeModel(StepContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Options.Candidates <= 1 || context.Step != 0 || Resolve(context) is not { } asked) return null;
        var (label, subject) = asked;
        var own = context.Latent;
        if (own.Size(0) != 1) throw new ArgumentException($"MotionClassifierHook: expects a batch of one latent, got {own.Shape}.");
        int n = Options.Candidates, steps = Options.LookaheadSteps;
        var shape = own.Shape.ToArray();
        var noises = new Tensor[n];
        noises[0] = own;
        for (int k = 1; k < n; k++) noises[k] = Tensor.Randn(context.Rng, shape);
        double from = context.Sigma, to = Math.Min(Options.ProbeSigma, from);
        var scores = new double[n];
        for (int k0 = 0; k0 < n; k0 += Options.SearchBatch)
        {
            int m = Math.Min(Options.SearchBatch, n - k0);
            using var scope = new TensorScope();                                                  // one batch's look-ahead at a time
            var z = m == 1 ? noises[k0] : Ops.Concat(noises[k0..(k0 + m)], 0);                   // [m, C, F, H, W]
            for (int j = 0; j < steps && to < from; j++)
            {
                double s0 = from + (to - from) * j / steps, s1 = from + (to - from) * (j + 1) / steps;
                Tensor v;
                using (GradMode.NoGrad()) v = context.VelocityAt(z, s0);
                if (Options.Scale > 0)
                {
                    var (g, _) = Gradient(z, s0, label, subject);
                    using (GradMode.NoGrad()) v = Ops.Sub(v, g.MulScalar((float)(Options.Scale * Weight(s0))));
                }
                using (GradMode.NoGrad()) z = Ops.Add(z, v.MulScalar((float)(s1 - s0)));
            }
            using (GradMode.NoGrad())
            {
                var lp = LogProbabilities(z, to, label, subject).ToArray();
                for (int i = 0; i < m; i++) scores[k0 + i] = lp[i];
            }
        }
        int best = 0;
        for (int k = 1; k < n; k++) if (scores[k] > scores[best]) best = k;
        _searches.Add(new MotionCandidateRecord(to, scores, best));
        return best == 0 ? null : new LatentUpdate(noises[best]);
    }

    public override Tensor? AfterPrediction(StepContext context, Tensor velocity, Tensor predictedX0)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(velocity);
        if (Options.Scale == 0 || Resolve(context) is not { } asked) return null;
        var (label, subject) = asked;
        var latent = context.Latent;
        if (latent.Size(0) != 1) throw new ArgumentException($"MotionClassifierHook: expects a batch of one latent, got {latent.Shape}.");
        double sigma = context.Sigma;
        var (grad, logps) = Gradient(latent, sigma, label, subject);
        double logp = logps[0];
        double weight = Weight(sigma);
        var g = grad.Span;
        double ss = 0;
        for (int i = 0; i < g.Length; i++) ss += (double)g[i] * g[i];
        _history.Add(new MotionGuidanceStepRecord(context.Step, sigma, Math.Exp(logp), Math.Sqrt(ss / Math.Max(1, g.Length))));
        using (GradMode.NoGrad())
            return Ops.Sub(velocity, grad.MulScalar((float)(Options.Scale * weight)));
    }
}
