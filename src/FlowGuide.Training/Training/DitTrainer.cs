using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FlowGuide.Models;
using FlowGuide.Models.Text;
using FlowGuide.Models.Video;
using FlowGuide.Models.Wan;
using FlowGuide.Nn;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training;

/// <summary>Settings of <see cref="DitTrainer"/> (see <see cref="TrainerOptions"/> for the shared ones).</summary>
public sealed record DitTrainingOptions : TrainerOptions
{
    /// <summary>The trained VAE (a folder written by <see cref="VaeTrainer"/>, e.g. OUT/vae); frozen.</summary>
    public required string VaeDirectory { get; init; }
    public WanTransformerConfig Model { get; init; } = WanTransformerConfig.Small;
    public WordTextEncoderConfig TextEncoder { get; init; } = WordTextEncoderConfig.Small;
    /// <summary>Probability of training on the empty prompt (zero context) instead of the caption: teaches the unconditional velocity CFG needs.</summary>
    public float CaptionDropout { get; init; } = 0.1f;
    /// <summary>
    /// Location of the logit-normal distribution of training noise levels: t = sigmoid(mean + std·n), n ~ N(0, 1).
    /// 0 centres t on 0.5; a positive value spends more steps at high noise, where the layout and the motion of a video are decided.
    /// </summary>
    public float TimestepMean { get; init; }
    /// <summary>Scale of the logit-normal training t (see <see cref="TimestepMean"/>).</summary>
    public float TimestepStd { get; init; } = 1f;
    /// <summary>
    /// Extra weight w on the part of the velocity error that varies over frames: loss = mean(e²) + w·mean((e − ē)²),
    /// e = prediction − target, ē its mean over the frames of each latent position. The best prediction is unchanged
    /// (both terms are minimised by the conditional mean); only the balance moves, from what is the same in every
    /// frame (background, colour) towards what moves. 0, the default, is plain flow matching.
    /// </summary>
    public float TemporalWeight { get; init; }
    /// <summary>Where encoded latents are cached per clip seed (default OUT/latents); null keeps them in memory only.</summary>
    public string? LatentCacheDirectory { get; init; }
    /// <summary>Noise levels t at which validation loss is measured (fixed eps per clip and t).</summary>
    public double[] ValidationTimesteps { get; init; } = { 0.1, 0.3, 0.5, 0.7, 0.9 };
    /// <summary>Sampling defaults written into the exported model_index.json.</summary>
    public ModelDefaults Defaults { get; init; } = new();
    /// <summary>FlowLoss on top of (or averaged with) the flow-matching loss; null trains with flow matching alone, exactly as before.</summary>
    public FlowLossOptions? FlowLoss { get; init; }
    /// <summary>Motion validation at every validation (flow error of predictions and of sampled videos); null skips it.</summary>
    public FlowValidationOptions? FlowValidation { get; init; }
    /// <summary>
    /// A model folder (e.g. an earlier run's OUT/model or models/flowguide-small) whose transformer and text encoder
    /// initialise this run instead of random weights; its configurations and vocabulary must equal this run's. The
    /// optimiser, EMA and schedule start fresh, so this continues training under a new schedule (a resumed run keeps its
    /// checkpoint and ignores this).
    /// </summary>
    public string? InitDirectory { get; init; }

    public override void Validate()
    {
        base.Validate();
        FlowLoss?.Validate();
        FlowValidation?.Validate();
        if ((FlowLoss is not null || FlowValidation is not null) && Frames < 2)
            throw new ArgumentException($"DitTrainer: flow needs clips of at least 2 frames, got {Frames}.");
        Model.Validate();
        if (string.IsNullOrWhiteSpace(VaeDirectory)) throw new ArgumentException("DitTrainer: the VAE folder is empty.");
        if (CaptionDropout is < 0 or > 1) throw new ArgumentException($"DitTrainer: caption dropout must be in [0, 1], got {CaptionDropout}.");
        if (!float.IsFinite(TimestepMean) || !(TimestepStd > 0 && float.IsFinite(TimestepStd)))
            throw new ArgumentException($"DitTrainer: the logit-normal t needs a finite mean and a positive finite std, got mean {TimestepMean}, std {TimestepStd}.");
        if (Model.TextDim != TextEncoder.Width)
            throw new ArgumentException($"DitTrainer: transformer text_dim {Model.TextDim} differs from the text encoder width {TextEncoder.Width}.");
        if (!(TemporalWeight >= 0) || float.IsInfinity(TemporalWeight))
            throw new ArgumentException($"DitTrainer: temporal weight must be a finite value >= 0, got {TemporalWeight}.");
        if (ValidationTimesteps.Length == 0 || ValidationTimesteps.Any(t => !(t > 0 && t < 1)))
            throw new ArgumentException("DitTrainer: validation timesteps must be a non-empty list of values in (0, 1).");
    }
}

/// <summary>
/// The transformer and the text encoder trained together as one module (children "transformer" and "text_encoder"),
/// so one optimiser, one EMA and one checkpoint cover both.
/// </summary>
public sealed class DitTrainingModule : Module
{
    public DitTrainingModule(WanTransformerConfig model, WordTextEncoderConfig text, Rng rng)
    {
        Transformer = Child("transformer", new WanTransformer3D(model, rng));
        TextEncoder = Child("text_encoder", new WordTextEncoder(text, new Vocabulary(CaptionGrammar.Vocabulary), rng));
    }

    public WanTransformer3D Transformer { get; }
    public WordTextEncoder TextEncoder { get; }
}

/// <summary>
/// Trains the text-to-video transformer with flow matching on motion-world clips encoded by a frozen trained VAE:
/// t = sigmoid(n), n ~ N(0, 1) (logit-normal), z_t = (1 - t)·z0 + t·eps, loss = mean ||v(z_t, 1000·t, text) - (eps - z0)||².
/// With probability <see cref="DitTrainingOptions.CaptionDropout"/> the caption is replaced by the empty prompt, whose
/// encoding is all zeros — the same context <c>flowguide generate</c> uses for its unconditional pass.
/// </summary>
/// <remarks>
/// The word-level text encoder is trained jointly rather than kept frozen at random weights: its closed vocabulary
/// carries no pretrained meaning, a random encoder's layers mix words by chance and cannot make "left" and "right"
/// more separable than its random embeddings happen to be, and its cost is negligible (at most 32 tokens against 320
/// video tokens). Latents are the posterior means of the VAE, cached per clip seed (the clip pool is cycled), so
/// after the first epoch a step no longer renders or encodes.
/// With <see cref="DitTrainingOptions.FlowLoss"/> the step's loss is <see cref="DitFlowLoss.Compute"/> instead (same
/// random draws, so runs with and without it see the same data, t and eps). Every step appends a row to
/// <c>OUT/train_log.csv</c> (<see cref="CsvColumns"/>).
/// </remarks>
public static class DitTrainer
{
    public const string ExportFolder = "model";

    /// <summary>The per-step CSV log beside the checkpoint folder.</summary>
    public const string CsvLogFile = "train_log.csv";

    /// <summary>
    /// Columns of <see cref="CsvLogFile"/> after "step": cumulative and per-step training seconds (validation excluded),
    /// learning rate, gradient norm, loss, its flow-matching part (unweighted batch mean), its flow part (batch mean of
    /// w L_flow), samples whose flow was computed, their flow EPE; at validation steps: the EMA flow-matching validation
    /// loss, the motion validation (<see cref="FlowValidationResult"/>) and its seconds.
    /// </summary>
    public static IReadOnlyList<string> CsvColumns { get; } = new[]
    {
        "train_s", "step_s", "lr", "gnorm", "loss", "fm_loss", "flow_loss", "flow_samples", "flow_epe",
        "val_loss", "val_pred_epe", "val_pred_world_epe", "val_sample_epe", "val_sample_motion", "val_sample_flicker", "val_s",
    };

    /// <summary>
    /// Writes the EMA weights of the run's latest checkpoint (DIR/checkpoint) as a complete model folder,
    /// DIR/model-step{N}, without training and without touching the checkpoint, so a run can be evaluated while it goes
    /// on. Returns the folder. The options must describe the run (the same model sizes; the checkpoint load is strict).
    /// </summary>
    public static string ExportCheckpoint(DitTrainingOptions options, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= TextWriter.Null;
        string dir = Path.Combine(options.OutputDirectory, TrainingLoop.CheckpointFolder);
        if (!TrainingCheckpoint.Exists(dir))
            throw new FileNotFoundException($"DitTrainer: '{dir}' holds no checkpoint to export (run 'train dit' first).", dir);
        var vae = VideoAutoencoders.LoadFrozen(options.VaeDirectory);
        var module = new DitTrainingModule(options.Model, options.TextEncoder, new Rng(options.Seed));
        var loop = new TrainingLoop("dit", module, options, TextWriter.Null);
        var ck = TrainingCheckpoint.Load(dir, module, loop.Optimizer, loop.Ema);
        var evalModule = new DitTrainingModule(options.Model, options.TextEncoder, new Rng(0));
        loop.Ema.CopyTo(evalModule);
        string export = Path.Combine(options.OutputDirectory, $"{ExportFolder}-step{ck.Step}");
        ShippedModel.Save(export, evalModule.Transformer, vae, evalModule.TextEncoder,
            options.Defaults with { Frames = options.Frames, Height = options.Height, Width = options.Width });
        log.WriteLine($"dit: exported the EMA weights of step {ck.Step} to {export}");
        return export;
    }

    public static TrainingResult Train(DitTrainingOptions options, TextWriter? log = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= TextWriter.Null;
        var vae = VideoAutoencoders.LoadFrozen(options.VaeDirectory);
        if (vae.LatentChannels != options.Model.InChannels || vae.LatentChannels != options.Model.OutChannels)
            throw new ArgumentException($"DitTrainer: the VAE has {vae.LatentChannels} latent channels, the transformer {options.Model.InChannels}->{options.Model.OutChannels}.");
        var latents = new LatentCache(vae, options);

        var module = new DitTrainingModule(options.Model, options.TextEncoder, new Rng(options.Seed));
        if (options.InitDirectory is { } init) InitialiseFrom(module, init, log);
        module.Train();
        var loop = new TrainingLoop("dit", module, options, log);
        var evalModule = new DitTrainingModule(options.Model, options.TextEncoder, new Rng(0));
        evalModule.Freeze();
        evalModule.Eval();
        var valClips = Enumerable.Range(0, options.ValidationClips).Select(i => (long)i).ToArray();
        IVideoDecoder decoder = vae;
        var flowLoss = options.FlowLoss is { } flo ? new FlowLoss(flo) : null;
        var targets = flowLoss is null ? null : new WorldFlowTargets(flowLoss, options.Frames, options.Width, options.Height);
        var validator = options.FlowValidation is { } fvo ? new FlowValidator(fvo, options.Frames, options.Width, options.Height) : null;
        var stats = new Dictionary<string, double>();
        AttachCsvLog(loop, options, stats);

        var (losses, val, sps) = loop.Run(step =>
        {
            var z0s = new List<Tensor>();
            var contexts = new List<Tensor>();
            var indices = new long[options.BatchSize];
            for (int b = 0; b < options.BatchSize; b++)
            {
                long index = indices[b] = options.ClipIndex(step, b);
                z0s.Add(latents.Get(index, WorldSplit.Train));
                bool drop = loop.Rng.Uniform() < options.CaptionDropout;
                contexts.Add(module.TextEncoder.Encode(drop ? "" : latents.Caption(index, WorldSplit.Train)));
            }
            var z0 = Cat(z0s);                                                         // [B, C, F', H', W']
            var ctx = Cat(contexts);                                                   // [B, L, D]
            var t = new float[options.BatchSize];
            for (int b = 0; b < t.Length; b++) t[b] = SampleTimestep(options, loop.Rng);
            var eps = Tensor.Randn(loop.Rng, z0.Shape.ToArray());
            if (flowLoss is null) return new StepLoss(FlowLoss(module.Transformer, z0, eps, t, ctx, options.TemporalWeight));
            var r = DitFlowLoss.Compute(module.Transformer, decoder, flowLoss, z0, eps, t, ctx,
                rows => targets!.Get(rows.Select(i => indices[i]).ToArray(), WorldSplit.Train));
            stats["fm_loss"] = r.Reconstruction;
            stats["flow_loss"] = r.FlowTerm;
            stats["flow_samples"] = r.Passed.Length;
            stats["flow_epe"] = r.FlowEpe;
            return new StepLoss(r.Loss, TrainingLoop.Invariant($"fm {r.Reconstruction:F5} flow {r.FlowTerm:F5} ({r.Passed.Length}/{t.Length} samples)"));
        }, () =>
        {
            loop.Ema.CopyTo(evalModule);
            var perT = Validate(evalModule, latents, valClips, options.ValidationTimesteps);
            double mean = perT.Average();
            stats["val_loss"] = mean;
            var text = TrainingLoop.Invariant($"loss {mean:F5} (EMA; at t = {string.Join(", ", options.ValidationTimesteps.Zip(perT, (tt, l) => $"{tt:0.##}: {l:F4}"))})");
            if (validator is not null)
            {
                if (!validator.Options.UseEma) evalModule.LoadStateDict(module.StateDict());
                var m = validator.Run(evalModule.Transformer, evalModule.TextEncoder, decoder, i => latents.Get(i, WorldSplit.Validation));
                stats["val_pred_epe"] = m.PredictionEpe;
                stats["val_pred_world_epe"] = m.PredictionWorldEpe;
                stats["val_sample_epe"] = m.SampleEpe;
                stats["val_sample_motion"] = m.SampleMotionError;
                stats["val_sample_flicker"] = m.SampleFlicker;
                stats["val_s"] = m.Seconds;
                text += TrainingLoop.Invariant($"; motion ({(validator.Options.UseEma ? "EMA" : "raw")}): prediction EPE {m.PredictionEpe:F3} px ({m.PredictionWorldEpe:F3} vs world), sample EPE {m.SampleEpe:F3} px, motion error {m.SampleMotionError:F3} px, flicker {m.SampleFlicker:F4} ({m.Seconds:F1} s)");
            }
            return (mean, text);
        }, cancel);

        string? export = null;
        if (loop.Step >= options.Steps)
        {
            loop.Ema.CopyTo(evalModule);
            export = Path.Combine(options.OutputDirectory, ExportFolder);
            ShippedModel.Save(export, evalModule.Transformer, vae, evalModule.TextEncoder,
                options.Defaults with { Frames = options.Frames, Height = options.Height, Width = options.Width });
            log.WriteLine($"dit: exported EMA weights to {export}");
        }
        return new TrainingResult(loop.Step, loop.Step >= options.Steps, losses, val, sps, export);
    }

    /// <summary>
    /// Copies the transformer and text-encoder weights of the model folder <paramref name="directory"/> into
    /// <paramref name="module"/> (EMA weights are what a model folder holds). Throws when the folder's transformer or
    /// text-encoder configuration or vocabulary differs from the module's, naming what differs.
    /// </summary>
    public static void InitialiseFrom(DitTrainingModule module, string directory, TextWriter? log = null)
    {
        var m = ShippedModel.Load(directory);
        var own = module.Transformer.Config;
        // a model without the position embedding may seed one with it: the embedding starts at zero, so the output is the init's
        bool addsPositions = m.Transformer.Config.PositionFrequencies == 0 && own.PositionFrequencies > 0
            && m.Transformer.Config == own with { PositionFrequencies = 0 };
        if (m.Transformer.Config != own && !addsPositions)
            throw new ArgumentException($"DitTrainer: --init model '{directory}' has transformer {m.Transformer.Config.Describe()}, this run {own.Describe()}.");
        if (m.TextEncoder.Config != module.TextEncoder.Config)
            throw new ArgumentException($"DitTrainer: --init model '{directory}' has text encoder {m.TextEncoder.Config}, this run {module.TextEncoder.Config}.");
        if (!m.TextEncoder.Vocabulary.Words.SequenceEqual(module.TextEncoder.Vocabulary.Words))
            throw new ArgumentException($"DitTrainer: --init model '{directory}' has a different vocabulary ({m.TextEncoder.Vocabulary.Count} words) from the motion world's ({module.TextEncoder.Vocabulary.Count}).");
        // ShippedModel.Load read the folder's weights strictly against its config, and the configs differ at most in the
        // embedding, so without strictness the embedding's key is the only one left unfilled
        module.Transformer.LoadStateDict(m.Transformer.StateDict(), strict: !addsPositions);
        if (addsPositions) module.Transformer.PositionEmbedding!.Weight.Span.Clear();
        module.TextEncoder.LoadStateDict(m.TextEncoder.StateDict());
        log?.WriteLine($"dit: initialised the transformer and text encoder from {directory}" +
                       (addsPositions ? " (its transformer has no position embedding; this run's starts at zero)" : ""));
    }

    /// <summary>A training noise level t = sigmoid(mean + std·n), n ~ N(0, 1) from <paramref name="rng"/> (<see cref="DitTrainingOptions.TimestepMean"/>).</summary>
    public static float SampleTimestep(DitTrainingOptions options, Rng rng) =>
        1f / (1f + MathF.Exp(-(options.TimestepMean + options.TimestepStd * rng.Normal())));

    /// <summary>
    /// The flow-matching loss: z_t = (1 - t)·z0 + t·eps per batch item, target eps - z0, timestep 1000·t,
    /// mean squared error over all elements, plus <paramref name="temporalWeight"/> times the mean squared error after
    /// removing each position's mean over frames (see <see cref="DitTrainingOptions.TemporalWeight"/>).
    /// </summary>
    public static Tensor FlowLoss(WanTransformer3D model, Tensor z0, Tensor eps, float[] t, Tensor context, float temporalWeight = 0)
    {
        int b = z0.Size(0);
        var zt = Noised(z0, eps, t);
        var target = Ops.Sub(eps, z0);
        var timestep = Tensor.FromArray(t.Select(v => v * 1000f).ToArray(), b);       // [B]
        var v = model.Forward(zt, timestep, context);
        var error = Ops.Sub(v, target);                                                // [B, C, F, H, W]
        var loss = error.Square().Mean();
        if (temporalWeight == 0) return loss;
        var moving = Ops.Sub(error, Ops.Mean(error, 2, keepDim: true));               // the part that changes over frames
        return Ops.Add(loss, moving.Square().Mean().MulScalar(temporalWeight));
    }

    /// <summary>The flow-matching interpolation z_t = (1 - t)·z0 + t·eps with one t per batch item ([B, ...] tensors, t [B]).</summary>
    public static Tensor Noised(Tensor z0, Tensor eps, float[] t)
    {
        ArgumentNullException.ThrowIfNull(z0);
        ArgumentNullException.ThrowIfNull(eps);
        ArgumentNullException.ThrowIfNull(t);
        int b = z0.Size(0);
        if (t.Length != b) throw new ArgumentException($"DitTrainer.Noised: {t.Length} noise levels for a batch of {b}.", nameof(t));
        var shape = new int[z0.Rank];
        Array.Fill(shape, 1);
        shape[0] = b;
        var tt = Tensor.FromArray(t, shape);                                           // [B, 1, ...]
        return Ops.Add(Ops.Mul(z0, tt.MulScalar(-1f).AddScalar(1f)), Ops.Mul(eps, tt));
    }

    /// <summary>Mean validation loss per t (fixed eps per clip and t, full captions), no gradients.</summary>
    public static double[] Validate(DitTrainingModule model, LatentCache latents, IReadOnlyList<long> clips, IReadOnlyList<double> timesteps)
    {
        var result = new double[timesteps.Count];
        using var _ = GradMode.NoGrad();
        for (int k = 0; k < timesteps.Count; k++)
        {
            foreach (var i in clips)
            {
                using var scope = new TensorScope();
                var z0 = latents.Get(i, WorldSplit.Validation);
                var rng = new Rng(0x5EED0000UL + (ulong)i * 131 + (ulong)k);
                var eps = Tensor.Randn(rng, z0.Shape.ToArray());
                var ctx = model.TextEncoder.Encode(latents.Caption(i, WorldSplit.Validation));
                result[k] += FlowLoss(model.Transformer, z0, eps, new[] { (float)timesteps[k] }, ctx).Item();
            }
            result[k] /= clips.Count;
        }
        return result;
    }

    private static Tensor Cat(List<Tensor> xs) => xs.Count == 1 ? xs[0] : Ops.Concat(xs, 0);

    /// <summary>
    /// Appends one <see cref="CsvLogFile"/> row per step from the loop's report and the values the step and validation
    /// left in <paramref name="stats"/> (cleared after each row); cumulative training time continues from the last kept row.
    /// </summary>
    private static void AttachCsvLog(TrainingLoop loop, DitTrainingOptions options, Dictionary<string, double> stats)
    {
        var csv = new TrainingCsvLog(Path.Combine(options.OutputDirectory, CsvLogFile), CsvColumns);
        double trainSeconds = double.NaN;
        loop.StepCompleted = r =>
        {
            if (double.IsNaN(trainSeconds))
                trainSeconds = csv.Start(r.Step) is { } last && last.TryGetValue("train_s", out var s) ? s : 0;
            trainSeconds += r.Seconds;
            stats["train_s"] = trainSeconds;
            stats["step_s"] = r.Seconds;
            stats["lr"] = r.LearningRate;
            stats["gnorm"] = r.GradNorm;
            stats["loss"] = r.Loss;
            if (!stats.ContainsKey("fm_loss")) stats["fm_loss"] = r.Loss;
            if (!stats.ContainsKey("flow_samples")) stats["flow_samples"] = 0;
            csv.Append(r.Step, stats);
            stats.Clear();
        };
    }
}

/// <summary>
/// Model-space VAE latents (posterior means) of world clips, keyed by clip seed: kept in memory as arrays and, when a
/// folder is given, on disk under a subfolder named by the VAE weights' hash and the world's <see cref="MotionWorld.Version"/>,
/// so a changed VAE or world never reuses stale latents.
/// </summary>
public sealed class LatentCache
{
    private readonly IVideoAutoencoder _vae;
    private readonly TrainerOptions _o;
    private readonly string? _dir;
    private readonly Dictionary<long, float[]> _memory = new();
    private readonly int[] _shape;

    public LatentCache(IVideoAutoencoder vae, DitTrainingOptions options)
        : this(vae, options, options.VaeDirectory, options.LatentCacheDirectory) { }

    /// <param name="vae">The frozen VAE that encodes clips the cache does not hold yet.</param>
    /// <param name="options">Clip size and, when <paramref name="cacheDirectory"/> is null, the run folder (latents/ under it).</param>
    /// <param name="vaeDirectory">The VAE's folder: its weights' hash names the cache subfolder.</param>
    /// <param name="cacheDirectory">Cache root shared between runs, or null for the run's own.</param>
    public LatentCache(IVideoAutoencoder vae, TrainerOptions options, string vaeDirectory, string? cacheDirectory)
    {
        ArgumentNullException.ThrowIfNull(vae);
        ArgumentNullException.ThrowIfNull(options);
        _vae = vae;
        _o = options;
        int tf = vae.TemporalFactor, sf = vae.SpatialFactor;
        if ((options.Frames - 1) % tf != 0 || options.Height % sf != 0 || options.Width % sf != 0)
            throw new ArgumentException($"DitTrainer: clips of {options.Frames}x{options.Height}x{options.Width} do not fit the VAE ({tf}k+1 frames, sizes multiple of {sf}).");
        _shape = new[] { 1, vae.LatentChannels, 1 + (options.Frames - 1) / tf, options.Height / sf, options.Width / sf };
        var root = cacheDirectory ?? Path.Combine(options.OutputDirectory, "latents");
        using var sha = SHA256.Create();
        using (var f = File.OpenRead(Path.Combine(vaeDirectory, VideoAutoencoders.WeightsFileName)))
            _dir = Path.Combine(root, CacheFolderName(Convert.ToHexString(sha.ComputeHash(f))[..16], options));
        Directory.CreateDirectory(_dir);
    }

    /// <summary>
    /// The cache's subfolder for a VAE weights hash and clip size: <c>HASH-FxHxW</c> for world version 1, with
    /// <c>-worldN</c> appended for later versions, so latents of clips an older world rendered are never reused.
    /// </summary>
    public static string CacheFolderName(string vaeHash, TrainerOptions options) =>
        $"{vaeHash}-{options.Frames}x{options.Height}x{options.Width}" + (MotionWorld.Version > 1 ? $"-world{MotionWorld.Version}" : "");

    /// <summary>Caption of a clip (from its spec; nothing is rendered).</summary>
    public string Caption(long index, WorldSplit split) =>
        CaptionGrammar.Describe(MotionWorld.Sample(index, split, _o.Frames, _o.Width, _o.Height));

    /// <summary>Latent [1, z, F', H', W'] of a clip, from memory, disk, or by rendering and encoding it.</summary>
    public Tensor Get(long index, WorldSplit split)
    {
        long seed = MotionWorld.SeedOf(index, split);
        if (!_memory.TryGetValue(seed, out var data))
        {
            var file = _dir is null ? null : Path.Combine(_dir, $"{seed}.f32");
            int n = _shape.Aggregate(1, (a, b) => a * b);
            if (file is not null && File.Exists(file) && new FileInfo(file).Length == 4L * n)
                data = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(file)).ToArray();
            else
            {
                using (GradMode.NoGrad())
                using (var scope = new TensorScope())
                {
                    var clip = MotionWorld.Generate(index, split, _o.Frames, _o.Width, _o.Height).Video;
                    data = _vae.Encode(VaeTrainer.Batch(clip)).ToArray();
                }
                if (file is not null)
                {
                    var tmp = file + ".tmp";
                    File.WriteAllBytes(tmp, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
                    File.Move(tmp, file, overwrite: true);
                }
            }
            _memory[seed] = data;
        }
        return Tensor.FromArray(data, _shape);
    }
}
