using System.Diagnostics;
using FlowGuide.Models;
using FlowGuide.Models.Text;
using FlowGuide.Tensors;

namespace FlowGuide.Sampling;

/// <summary>Which stepper the denoising loop uses.</summary>
public enum SamplerKind
{
    /// <summary>First-order flow-matching Euler (<see cref="FlowMatchEuler"/>).</summary>
    Euler,
    /// <summary>UniPC order 2, bh2 (<see cref="UniPc"/>): Wan2.1's and diffusers' default.</summary>
    UniPc,
}

/// <summary>
/// Settings of one text-to-video run. Defaults are Wan2.1's (81 frames at 480x832, 50 UniPC steps, CFG 5, shift 5
/// as in Wan's generate.py; diffusers' Wan pipeline uses shift 3 at 480p).
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Sampling steps N.</summary>
    public int Steps { get; init; } = 50;
    /// <summary>Classifier-free guidance scale g (1 disables the unconditional pass).</summary>
    public float GuidanceScale { get; init; } = 5f;
    /// <summary>Flow shift of the sigma schedule.</summary>
    public double Shift { get; init; } = 5.0;
    public SamplerKind Sampler { get; init; } = SamplerKind.UniPc;
    /// <summary>Seed of the run's <see cref="Rng"/>: initial noise first, then whatever hooks draw.</summary>
    public ulong Seed { get; init; }
    /// <summary>Video frames; must be k * TemporalFactor + 1 (Wan: 4k + 1).</summary>
    public int Frames { get; init; } = 81;
    /// <summary>Video height in pixels; a multiple of the decoder's spatial factor.</summary>
    public int Height { get; init; } = 480;
    /// <summary>Video width in pixels; a multiple of the decoder's spatial factor.</summary>
    public int Width { get; init; } = 832;
    /// <summary>Negative prompt for the unconditional pass ("" as in diffusers).</summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary>Run the conditional and unconditional passes as one batch of 2 (faster) or as two calls (less memory).</summary>
    public bool BatchCfg { get; init; } = true;
    /// <summary>Hand the model floor(sigma * 1000) as diffusers and Wan do (true), or the exact sigma * 1000.</summary>
    public bool IntegerTimesteps { get; init; } = true;

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (Steps < 1) throw new ArgumentException($"GenerationOptions: Steps must be at least 1, got {Steps}.");
        if (!float.IsFinite(GuidanceScale)) throw new ArgumentException($"GenerationOptions: GuidanceScale must be finite, got {GuidanceScale}.");
        if (!(Shift > 0) || double.IsInfinity(Shift)) throw new ArgumentException($"GenerationOptions: Shift must be positive, got {Shift}.");
        if (Frames < 1 || Height < 1 || Width < 1) throw new ArgumentException($"GenerationOptions: Frames, Height and Width must be positive, got {Frames}x{Height}x{Width}.");
        ArgumentNullException.ThrowIfNull(NegativePrompt);
    }
}

/// <summary>Reported after every completed step.</summary>
/// <param name="Step">Steps completed so far (1..TotalSteps).</param>
/// <param name="TotalSteps">Steps in the run.</param>
/// <param name="Elapsed">Time since the denoising loop started.</param>
/// <param name="Sigma">Noise level the step started from.</param>
public readonly record struct StepProgress(int Step, int TotalSteps, TimeSpan Elapsed, double Sigma);

/// <summary>A generated video and the final latent it was decoded from.</summary>
/// <param name="Video">[1, 3, Frames, Height, Width], values about [-1, 1].</param>
/// <param name="Latent">[1, C, F', H', W'] in the model's latent space.</param>
public sealed record GenerationResult(Tensor Video, Tensor Latent);

/// <summary>
/// Text-to-video with a flow-matching video model: encode the prompt and negative prompt, draw seeded noise, run the
/// explicit denoising loop (classifier-free guidance, <see cref="IGuidanceHook"/>s, Euler or UniPC), decode.
/// </summary>
/// <remarks>
/// The loop, per step i: hooks' BeforeModel (in order) → guided velocity v at the (possibly replaced) latent →
/// hooks' AfterPrediction → sampler step from sigma_i to sigma_{i+1} → hooks' AfterStep. Each step runs in its own
/// <see cref="TensorScope"/>; the latent and the sampler state are copied out and the previous step's copies released,
/// so memory stays flat over any number of steps. The model should have frozen weights (RequiresGrad off) when hooks
/// differentiate through it, or the graph also records weight gradients.
/// </remarks>
public sealed class TextToVideoPipeline
{
    public TextToVideoPipeline(IVelocityModel model, ITextEncoder? textEncoder, IVideoDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(decoder);
        Model = model;
        TextEncoder = textEncoder;
        Decoder = decoder;
    }

    public IVelocityModel Model { get; }
    /// <summary>Null when the caller always passes embeddings (<see cref="GenerateFromEmbeddings"/>).</summary>
    public ITextEncoder? TextEncoder { get; }
    public IVideoDecoder Decoder { get; }

    /// <summary>Latent shape [1, C, (Frames - 1) / T + 1, Height / S, Width / S] for <paramref name="options"/>; throws when the sizes do not divide.</summary>
    public int[] LatentShape(GenerationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        int t = Decoder.TemporalFactor, s = Decoder.SpatialFactor;
        if ((options.Frames - 1) % t != 0)
            throw new ArgumentException($"TextToVideoPipeline: {options.Frames} frames is not of the form {t}k + 1 (e.g. {(options.Frames - 1) / t * t + 1} or {((options.Frames - 1) / t + 1) * t + 1}).");
        if (options.Height % s != 0 || options.Width % s != 0)
            throw new ArgumentException($"TextToVideoPipeline: {options.Height}x{options.Width} is not a multiple of the decoder's spatial factor {s}.");
        return new[] { 1, Decoder.LatentChannels, (options.Frames - 1) / t + 1, options.Height / s, options.Width / s };
    }

    /// <summary>Encodes <paramref name="prompt"/> and <see cref="GenerationOptions.NegativePrompt"/>, samples, decodes.</summary>
    public GenerationResult Generate(string prompt, GenerationOptions options, IReadOnlyList<IGuidanceHook>? hooks = null,
        IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        if (TextEncoder is null) throw new InvalidOperationException("TextToVideoPipeline.Generate: no text encoder was given; use GenerateFromEmbeddings.");
        options.Validate();
        Tensor cond, uncond;
        using (GradMode.NoGrad())
        {
            cond = TextEncoder.Encode(prompt);
            uncond = TextEncoder.Encode(options.NegativePrompt);
        }
        return Sample(cond, uncond, options, hooks, progress, cancellationToken, prompt);
    }

    /// <summary>Samples with given prompt and negative embeddings [1, L, D] and decodes.</summary>
    public GenerationResult GenerateFromEmbeddings(Tensor promptEmbeddings, Tensor negativeEmbeddings, GenerationOptions options,
        IReadOnlyList<IGuidanceHook>? hooks = null, IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Sample(promptEmbeddings, negativeEmbeddings, options, hooks, progress, cancellationToken, prompt: null);

    private GenerationResult Sample(Tensor promptEmbeddings, Tensor negativeEmbeddings, GenerationOptions options,
        IReadOnlyList<IGuidanceHook>? hooks, IProgress<StepProgress>? progress, CancellationToken cancellationToken, string? prompt)
    {
        var shape = LatentShape(options);
        var rng = new Rng(options.Seed);
        var noise = Tensor.Randn(rng, shape);
        var latent = DenoiseCore(noise, promptEmbeddings, negativeEmbeddings, options, rng, hooks, progress, cancellationToken, prompt);
        cancellationToken.ThrowIfCancellationRequested();
        Tensor video;
        using (GradMode.NoGrad()) video = Decoder.Decode(latent);
        return new GenerationResult(video, latent);
    }

    /// <summary>
    /// The denoising loop alone: from <paramref name="initialLatent"/> at sigma_0 to the clean latent. <paramref name="rng"/>
    /// is handed to hooks (pass the generator that drew the noise so one seed fixes everything).
    /// </summary>
    public Tensor Denoise(Tensor initialLatent, Tensor promptEmbeddings, Tensor negativeEmbeddings, GenerationOptions options, Rng rng,
        IReadOnlyList<IGuidanceHook>? hooks = null, IProgress<StepProgress>? progress = null, CancellationToken cancellationToken = default) =>
        DenoiseCore(initialLatent, promptEmbeddings, negativeEmbeddings, options, rng, hooks, progress, cancellationToken, prompt: null);

    private Tensor DenoiseCore(Tensor initialLatent, Tensor promptEmbeddings, Tensor negativeEmbeddings, GenerationOptions options, Rng rng,
        IReadOnlyList<IGuidanceHook>? hooks, IProgress<StepProgress>? progress, CancellationToken cancellationToken, string? prompt)
    {
        ArgumentNullException.ThrowIfNull(initialLatent);
        ArgumentNullException.ThrowIfNull(promptEmbeddings);
        ArgumentNullException.ThrowIfNull(negativeEmbeddings);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(rng);
        options.Validate();
        if (initialLatent.Rank != 5) throw new ArgumentException($"TextToVideoPipeline.Denoise: latent must be [B, C, F, H, W], got {initialLatent.Shape}.");
        var hookList = hooks ?? Array.Empty<IGuidanceHook>();
        foreach (var h in hookList) ArgumentNullException.ThrowIfNull(h, nameof(hooks));

        var schedule = SigmaSchedule.Create(options.Steps, options.Shift);
        var cfg = new CfgVelocity(Model, options.GuidanceScale, options.BatchCfg);
        var start = initialLatent.Detach().Clone(); // the run's own z_T, alive for the whole run
        var latent = start;
        var uni = UniPcState.Initial;
        var carried = new List<Tensor>();           // this loop's copies from the previous step
        var kept = new List<Tensor>();              // hook tensors to move out of the step scope
        var clock = Stopwatch.StartNew();

        for (int i = 0; i < schedule.Steps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var active = hookList.Where(h => h.Window.Contains(i, schedule.Steps)).ToList();
            float timestep = (float)(options.IntegerTimesteps ? schedule.IntegerTimestep(i) : schedule.Timesteps[i]);
            var nextCarried = new List<Tensor>();
            using (var scope = new TensorScope())
            {
                var ctx = new StepContext(i, schedule, timestep, latent, start, promptEmbeddings, negativeEmbeddings, cfg, Decoder, TextEncoder, rng, kept, prompt);

                // 1. hooks before the model call (may replace the latent, may supply its velocity)
                Tensor? velocity = null;
                foreach (var h in active)
                {
                    if (h.BeforeModel(ctx) is not { } update) continue;
                    ArgumentNullException.ThrowIfNull(update.Latent, "LatentUpdate.Latent");
                    CheckSame(update.Latent, latent, h, "BeforeModel latent");
                    ctx.Latent = update.Latent.Detach();
                    velocity = update.Velocity?.Detach();
                }
                var sample = ctx.Latent;

                // 2. guided velocity and clean prediction
                Tensor x0;
                using (GradMode.NoGrad())
                {
                    velocity ??= ctx.Velocity(sample);
                    CheckSame(velocity, sample, null, "velocity");
                    x0 = ctx.PredictX0(sample, velocity);
                }
                foreach (var h in active)
                {
                    if (h.AfterPrediction(ctx, velocity, x0) is not { } v) continue;
                    CheckSame(v, sample, h, "AfterPrediction velocity");
                    velocity = v.Detach();
                    using (GradMode.NoGrad()) x0 = ctx.PredictX0(sample, velocity);
                }

                // 3. sampler step sigma_i -> sigma_{i+1}
                Tensor next;
                using (GradMode.NoGrad())
                {
                    if (options.Sampler == SamplerKind.Euler) next = FlowMatchEuler.Step(sample, velocity, schedule, i);
                    else (next, uni) = UniPc.Step(sample, velocity, schedule, i, uni);
                }

                // 4. hooks after the step
                foreach (var h in active)
                {
                    if (h.AfterStep(ctx, next) is not { } replaced) continue;
                    CheckSame(replaced, next, h, "AfterStep latent");
                    next = replaced.Detach();
                }

                // 5. copy what the next step needs out of this step's scope
                var copies = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
                Tensor Carry(Tensor t)
                {
                    if (ReferenceEquals(t, start)) return t;
                    if (!copies.TryGetValue(t, out var c)) { c = t.Clone(); copies[t] = c; nextCarried.Add(c); }
                    return c;
                }
                latent = Carry(next);
                uni = uni.MapTensors(Carry);
                if (nextCarried.Count > 0) scope.Keep(nextCarried.ToArray());
                if (kept.Count > 0) { scope.Keep(kept.ToArray()); kept.Clear(); }
            }
            foreach (var t in carried) t.Dispose();
            carried = nextCarried;
            progress?.Report(new StepProgress(i + 1, schedule.Steps, clock.Elapsed, schedule.Sigmas[i]));
        }
        foreach (var t in carried) if (!ReferenceEquals(t, latent)) t.Dispose();
        if (!ReferenceEquals(start, latent)) start.Dispose();
        return latent;
    }

    private static void CheckSame(Tensor t, Tensor like, IGuidanceHook? hook, string what)
    {
        if (t.Shape != like.Shape)
            throw new InvalidOperationException($"TextToVideoPipeline: {(hook is null ? "the model" : hook.GetType().Name)} returned a {what} of shape {t.Shape}; expected {like.Shape}.");
    }
}
