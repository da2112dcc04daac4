using FlowGuide.Models;
using FlowGuide.Models.Text;
using FlowGuide.Tensors;

namespace FlowGuide.Sampling;

/// <summary>
/// The steps a guidance hook is active on, as step indices [Start, End) or as fractions of the run, so a window
/// written for 50 steps ("the first 12") scales to any step count (<see cref="Fractions"/>(0, 0.24)).
/// </summary>
public sealed record StepWindow
{
    private StepWindow(int? start, int? end, double startFraction, double endFraction)
    {
        StartIndex = start; EndIndex = end; StartFraction = startFraction; EndFraction = endFraction;
    }

    /// <summary>First active step when the window is given by index (null: by fraction).</summary>
    public int? StartIndex { get; }
    /// <summary>One past the last active step when given by index.</summary>
    public int? EndIndex { get; }
    /// <summary>Start as a fraction of the step count when given by fraction.</summary>
    public double StartFraction { get; }
    /// <summary>End as a fraction of the step count when given by fraction.</summary>
    public double EndFraction { get; }

    /// <summary>Every step.</summary>
    public static StepWindow All { get; } = new(null, null, 0, 1);

    /// <summary>Steps <paramref name="start"/> ≤ i &lt; <paramref name="end"/> (clipped to the run).</summary>
    public static StepWindow Steps(int start, int end)
    {
        if (start < 0 || end < start) throw new ArgumentException($"StepWindow.Steps: need 0 <= start <= end, got start {start}, end {end}.");
        return new(start, end, 0, 0);
    }

    /// <summary>
    /// Steps round(start·N) ≤ i &lt; round(end·N) for a run of N steps (halves round up), e.g. (0, 0.24) is the first 12 of 50.
    /// </summary>
    public static StepWindow Fractions(double start, double end)
    {
        if (!(start >= 0 && start <= end && end <= 1)) throw new ArgumentException($"StepWindow.Fractions: need 0 <= start <= end <= 1, got start {start}, end {end}.");
        return new(null, null, start, end);
    }

    /// <summary>The window as step indices [Start, End) for a run of <paramref name="totalSteps"/> steps.</summary>
    public (int Start, int End) Resolve(int totalSteps)
    {
        if (StartIndex is { } s && EndIndex is { } e) return (Math.Min(s, totalSteps), Math.Min(e, totalSteps));
        return ((int)Math.Round(StartFraction * totalSteps, MidpointRounding.AwayFromZero),
                (int)Math.Round(EndFraction * totalSteps, MidpointRounding.AwayFromZero));
    }

    /// <summary>Whether step <paramref name="step"/> of <paramref name="totalSteps"/> is inside the window.</summary>
    public bool Contains(int step, int totalSteps)
    {
        var (s, e) = Resolve(totalSteps);
        return step >= s && step < e;
    }

    public override string ToString() => StartIndex is { } s ? $"steps [{s}, {EndIndex})" : $"fractions [{StartFraction}, {EndFraction})";
}

/// <summary>What a hook's <see cref="IGuidanceHook.BeforeModel"/> may hand back: a new latent, and optionally the velocity to step with at it.</summary>
/// <param name="Latent">The latent the model call and the sampler step use from now on.</param>
/// <param name="Velocity">
/// When set, the loop skips its own model call and steps with this velocity (FlowMo's released variant steps the
/// updated latent with the velocity computed before the update). A later hook that replaces the latent without a
/// velocity clears it.
/// </param>
public readonly record struct LatentUpdate(Tensor Latent, Tensor? Velocity = null);

/// <summary>
/// A guidance method plugged into <see cref="TextToVideoPipeline"/>'s denoising loop. The loop calls, on each step
/// inside <see cref="Window"/> and for several hooks in the order given: <see cref="BeforeModel"/> (may optimise the
/// latent, differentiating through <see cref="StepContext.Velocity(Tensor)"/>), then — after the guided velocity is
/// known — <see cref="AfterPrediction"/>, then after the sampler step <see cref="AfterStep"/>. Hooks run with gradient
/// recording enabled; the loop's own model call and step run without. Tensors in the context live for one step: keep
/// anything needed later with <see cref="StepContext.Keep"/>.
/// </summary>
public interface IGuidanceHook
{
    /// <summary>The steps this hook runs on.</summary>
    StepWindow Window { get; }

    /// <summary>Before the model call: return a replacement latent (and optionally its velocity), or null to keep it.</summary>
    LatentUpdate? BeforeModel(StepContext context);

    /// <summary>
    /// After the guided velocity <paramref name="velocity"/> and the clean prediction <paramref name="predictedX0"/>
    /// (<c>latent - sigma * v</c>) are known: return a replacement velocity for the sampler step, or null to keep it.
    /// </summary>
    Tensor? AfterPrediction(StepContext context, Tensor velocity, Tensor predictedX0);

    /// <summary>After the sampler step: return a replacement for <paramref name="newLatent"/>, or null to keep it.</summary>
    Tensor? AfterStep(StepContext context, Tensor newLatent);
}

/// <summary>A hook base whose three callbacks do nothing; override the ones a method needs.</summary>
public abstract class GuidanceHook : IGuidanceHook
{
    protected GuidanceHook(StepWindow? window = null) => Window = window ?? StepWindow.All;

    public StepWindow Window { get; }

    public virtual LatentUpdate? BeforeModel(StepContext context) => null;

    public virtual Tensor? AfterPrediction(StepContext context, Tensor velocity, Tensor predictedX0) => null;

    public virtual Tensor? AfterStep(StepContext context, Tensor newLatent) => null;
}

/// <summary>
/// Everything a hook may read or call at one sampling step: where the step is on the schedule, the latent, the prompt
/// embeddings, the classifier-free-guided velocity function (the same one the loop uses, so hooks differentiate exactly
/// what is sampled), the decoder and text encoder, and the run's random generator.
/// </summary>
public sealed class StepContext
{
    private readonly CfgVelocity _cfg;
    private readonly List<Tensor> _kept;

    private Tensor _prompt;

    internal StepContext(int step, SigmaSchedule schedule, float timestep, Tensor latent, Tensor initialLatent,
        Tensor promptEmbeddings, Tensor negativeEmbeddings, CfgVelocity cfg, IVideoDecoder? decoder, ITextEncoder? textEncoder,
        Rng rng, List<Tensor> kept, string? prompt = null)
    {
        Step = step; Schedule = schedule; Timestep = timestep; Latent = latent; InitialLatent = initialLatent;
        _prompt = promptEmbeddings; RunPromptEmbeddings = promptEmbeddings; NegativeEmbeddings = negativeEmbeddings; _cfg = cfg;
        Decoder = decoder; TextEncoder = textEncoder; Rng = rng; _kept = kept; Prompt = prompt;
    }

    /// <summary>Index of this step, 0-based.</summary>
    public int Step { get; }
    /// <summary>Number of steps in the run.</summary>
    public int TotalSteps => Schedule.Steps;
    /// <summary>Noise level t at this step (the latent is z_t).</summary>
    public double Sigma => Schedule.Sigmas[Step];
    /// <summary>Noise level after this step.</summary>
    public double NextSigma => Schedule.Sigmas[Step + 1];
    /// <summary>The timestep value handed to the model at this step.</summary>
    public float Timestep { get; }
    /// <summary>The run's sigma table.</summary>
    public SigmaSchedule Schedule { get; }
    /// <summary>The current latent [1, C, F, H, W]: replaced in turn by hooks that return a <see cref="LatentUpdate"/>.</summary>
    public Tensor Latent { get; internal set; }
    /// <summary>The initial noise z_T the run started from (FlowMotion's average velocity needs it); valid for the whole run.</summary>
    public Tensor InitialLatent { get; }
    /// <summary>
    /// Encoded prompt [1, L, D] that <see cref="Velocity(Tensor)"/> and the loop's own model call use at this step. It
    /// starts as the run's prompt (<see cref="RunPromptEmbeddings"/>); a hook may replace it for the rest of this step
    /// (MotionPrompt steps with its optimised prompt), and later hooks and the loop's model call then see the replacement.
    /// Every step starts again from the run's prompt. The replacement must have the run prompt's shape.
    /// </summary>
    public Tensor PromptEmbeddings
    {
        get => _prompt;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Shape != RunPromptEmbeddings.Shape)
                throw new ArgumentException($"StepContext.PromptEmbeddings: a replacement prompt must have the run prompt's shape {RunPromptEmbeddings.Shape}, got {value.Shape}.", nameof(value));
            _prompt = value.Detach();
        }
    }
    /// <summary>The run's own encoded prompt [1, L, D], whatever a hook set <see cref="PromptEmbeddings"/> to.</summary>
    public Tensor RunPromptEmbeddings { get; }
    /// <summary>The prompt text when the run started from text (<see cref="TextToVideoPipeline.Generate"/>); null when it started from embeddings.</summary>
    public string? Prompt { get; }
    /// <summary>Encoded negative prompt [1, L, D].</summary>
    public Tensor NegativeEmbeddings { get; }
    /// <summary>The run's classifier-free guidance scale g in <c>v = v_u + g (v_c - v_u)</c>.</summary>
    public float GuidanceScale => _cfg.GuidanceScale;
    /// <summary>The model the velocity functions call.</summary>
    public IVelocityModel Model => _cfg.Model;
    /// <summary>The VAE decoder (to decode predicted clean latents), when the pipeline has one.</summary>
    public IVideoDecoder? Decoder { get; }
    /// <summary>The text encoder (to re-encode edited token embeddings), when the pipeline has one.</summary>
    public ITextEncoder? TextEncoder { get; }
    /// <summary>The run's generator (already advanced past the initial noise): draws here are reproducible by seed.</summary>
    public Rng Rng { get; }

    /// <summary>
    /// The guided velocity at <paramref name="latent"/> for this step's timestep and the run's prompts and scale.
    /// Records a graph when gradients are enabled and <paramref name="latent"/> requires them.
    /// </summary>
    public Tensor Velocity(Tensor latent) => _cfg.Compute(latent, Timestep, PromptEmbeddings, NegativeEmbeddings, _cfg.GuidanceScale);

    /// <summary>
    /// The guided velocity with explicit embeddings (e.g. a prompt with an appended learnable token, [1, L, D] like
    /// <see cref="PromptEmbeddings"/>); the negative embeddings and the scale default to the run's.
    /// </summary>
    public Tensor Velocity(Tensor latent, Tensor promptEmbeddings, Tensor? negativeEmbeddings = null, float? guidanceScale = null) =>
        _cfg.Compute(latent, Timestep, promptEmbeddings, negativeEmbeddings ?? NegativeEmbeddings, guidanceScale ?? _cfg.GuidanceScale);

    /// <summary>
    /// The guided velocity at <paramref name="latent"/> ([B, ...], any batch) for noise level <paramref name="sigma"/>
    /// (model timestep 1000·sigma, not rounded) with this step's prompts and scale: for hooks that look ahead along the
    /// trajectory, e.g. to score candidate noises at a lower noise level before committing to one.
    /// </summary>
    public Tensor VelocityAt(Tensor latent, double sigma)
    {
        if (!(sigma >= 0 && sigma <= 1)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "StepContext.VelocityAt: sigma must be in [0, 1].");
        return _cfg.Compute(latent, (float)(sigma * SigmaSchedule.TrainTimesteps), PromptEmbeddings, NegativeEmbeddings, _cfg.GuidanceScale);
    }

    /// <summary><see cref="Velocity(Tensor)"/> as a delegate, for loss functions that take one.</summary>
    public Func<Tensor, Tensor> VelocityFunction => Velocity;

    /// <summary>The clean-latent estimate <c>latent - sigma * v</c> at this step (differentiable).</summary>
    public Tensor PredictX0(Tensor latent, Tensor velocity) => Ops.Sub(latent, Ops.MulScalar(velocity, (float)Sigma));

    /// <summary>A detached copy of <paramref name="t"/> that outlives this step (released by the GC or the caller's scope, never by the loop).</summary>
    public Tensor Keep(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        var c = t.Clone();
        _kept.Add(c);
        return c;
    }
}
