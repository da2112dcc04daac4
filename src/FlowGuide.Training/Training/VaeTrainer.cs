using FlowGuide.Models;
using FlowGuide.Models.Video;
using FlowGuide.Models.Wan;
using FlowGuide.Nn;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training;

/// <summary>Pixel reconstruction loss of the VAE trainer.</summary>
public enum ReconstructionLoss
{
    /// <summary>Mean absolute error: sharper edges on the world's flat-coloured shapes.</summary>
    L1,
    /// <summary>Mean squared error (what PSNR measures).</summary>
    Mse,
}

/// <summary>Which autoencoder <see cref="VaeTrainer"/> trains.</summary>
public enum VaeArchitecture
{
    /// <summary><see cref="CompactVae"/> (<see cref="VaeTrainingOptions.Compact"/>): FlowGuide's own model.</summary>
    Compact,
    /// <summary><see cref="WanVae"/> (<see cref="VaeTrainingOptions.Model"/>): the Wan2.1 architecture.</summary>
    Wan,
}

/// <summary>Settings of <see cref="VaeTrainer"/> (see <see cref="TrainerOptions"/> for the shared ones).</summary>
public sealed record VaeTrainingOptions : TrainerOptions
{
    public VaeArchitecture Architecture { get; init; } = VaeArchitecture.Compact;
    /// <summary>Configuration when <see cref="Architecture"/> is Wan.</summary>
    public WanVaeConfig Model { get; init; } = WanVaeConfig.Small;
    /// <summary>Configuration when <see cref="Architecture"/> is Compact.</summary>
    public CompactVaeConfig Compact { get; init; } = CompactVaeConfig.Small;
    public ReconstructionLoss Loss { get; init; } = ReconstructionLoss.Mse;
    /// <summary>Weight of KL(q(z|x) || N(0, I)), averaged per latent element.</summary>
    public float KlWeight { get; init; } = 1e-6f;
    /// <summary>Training clips encoded at the end to fit latents_mean / latents_std.</summary>
    public int StatsClips { get; init; } = 64;
    /// <summary>
    /// Fresh runs start the posterior log-variance at this constant (its output weights zero, bias this value), so the
    /// posterior std starts at e^-4 instead of about 1 — as large as the latent itself — and the decoder is not fed noise
    /// while it learns; the KL term still shapes the variance afterwards.
    /// </summary>
    public float InitialLogVar { get; init; } = -8f;

    /// <summary>
    /// Start from the weights of this exported VAE folder (same architecture and sizes) instead of the seed's random
    /// initialisation; the optimiser, EMA and schedule start fresh, so this continues training under a new schedule (a
    /// resumed run keeps its checkpoint and ignores this).
    /// </summary>
    public string? InitDirectory { get; init; }

    /// <summary>
    /// Weight of <see cref="VaeTrainer.TemporalDifferenceLoss"/> (the frame-to-frame change of the reconstruction against
    /// the clip's) added to the loss; 0 (the default) leaves it out. Moving shapes cover a few percent of the pixels, so
    /// plain MSE barely penalises a decoder that smears them over the four frames of a latent frame; this term does.
    /// </summary>
    public float TemporalWeight { get; init; }

    /// <summary>
    /// Train the decoder only: the encoder (and its posterior head) keeps the weights it starts with. With
    /// <see cref="InitDirectory"/> the exported VAE keeps that folder's latents_mean / latents_std, so it encodes exactly
    /// as before and a transformer trained on the old latents can use the new decoder as it is.
    /// </summary>
    public bool FreezeEncoder { get; init; }

    public override void Validate()
    {
        base.Validate();
        Model.Validate();
        Compact.Validate();
        if (!(KlWeight >= 0)) throw new ArgumentException($"VaeTrainer: KL weight must be >= 0, got {KlWeight}.");
        if (!(TemporalWeight >= 0 && float.IsFinite(TemporalWeight))) throw new ArgumentException($"VaeTrainer: temporal weight must be a finite number >= 0, got {TemporalWeight}.");
        if (StatsClips < 1) throw new ArgumentException($"VaeTrainer: stats clips must be at least 1, got {StatsClips}.");
        var (tf, sf) = Architecture == VaeArchitecture.Wan ? (Model.TemporalFactor, Model.SpatialFactor) : (Compact.TemporalFactor, Compact.SpatialFactor);
        if ((Frames - 1) % tf != 0 || Height % sf != 0 || Width % sf != 0)
            throw new ArgumentException($"VaeTrainer: clips of {Frames}x{Height}x{Width} do not fit the VAE ({tf}k+1 frames, sizes multiple of {sf}).");
    }
}

/// <summary>
/// Trains a Wan-architecture VAE on motion-world clips: loss = reconstruction (L1 or MSE of the decoded posterior
/// sample) + KlWeight · KL, with the shared <see cref="TrainingLoop"/> machinery. Validation is PSNR of the EMA
/// weights on fixed validation clips (posterior mean, clamped decode). At the end the EMA weights are exported to
/// <c>OUT/vae</c> with latents_mean / latents_std fitted per channel on <see cref="VaeTrainingOptions.StatsClips"/>
/// training clips, so the diffusion model sees unit-variance latents.
/// </summary>
public static class VaeTrainer
{
    public const string ExportFolder = "vae";

    public static TrainingResult Train(VaeTrainingOptions options, TextWriter? log = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= TextWriter.Null;
        var vae = TrainableVae.Create(options, new Rng(options.Seed));
        vae.InitLogVar(options.InitialLogVar);
        if (options.InitDirectory is { } init) InitialiseFrom(vae, init, log);
        if (options.FreezeEncoder) vae.FreezeEncoder();
        vae.Module.Train();
        var loop = new TrainingLoop("vae", vae.Module, options, log);
        var validation = Enumerable.Range(0, options.ValidationClips)
            .Select(i => Batch(MotionWorld.Generate(i, WorldSplit.Validation, options.Frames, options.Width, options.Height).Video)).ToList();
        var evalVae = TrainableVae.Create(options, new Rng(0));
        evalVae.Module.Freeze();
        evalVae.Module.Eval();

        var (losses, val, sps) = loop.Run(step =>
        {
            var clips = Enumerable.Range(0, options.BatchSize)
                .Select(b => Batch(MotionWorld.Generate(options.ClipIndex(step, b), WorldSplit.Train, options.Frames, options.Width, options.Height).Video)).ToList();
            var x = clips.Count == 1 ? clips[0] : Ops.Concat(clips, 0);          // [B, 3, F, H, W]
            return Loss(vae, x, options, loop.Rng);
        }, () =>
        {
            loop.Ema.CopyTo(evalVae.Module);
            double psnr = Psnr(evalVae.Autoencoder, validation);
            return (psnr, $"PSNR {psnr:F2} dB on {validation.Count} clips (EMA)");
        }, cancel);

        string? export = null;
        if (loop.Step >= options.Steps)
        {
            loop.Ema.CopyTo(evalVae.Module);
            export = Export(evalVae, options, log);
        }
        return new TrainingResult(loop.Step, loop.Step >= options.Steps, losses, val, sps, export);
    }

    /// <summary>Loads an exported VAE folder's weights into <paramref name="vae"/>; the architecture and every size must match.</summary>
    internal static void InitialiseFrom(TrainableVae vae, string directory, TextWriter? log = null)
    {
        ArgumentNullException.ThrowIfNull(vae);
        var loaded = VideoAutoencoders.Load(directory);
        if (loaded is not Module m || loaded.GetType() != vae.Autoencoder.GetType())
            throw new ArgumentException($"VaeTrainer: --init folder '{directory}' holds a {loaded.GetType().Name}, this run trains a {vae.Autoencoder.GetType().Name}.");
        // strict: every key and shape checked before anything is copied
        try { vae.Module.LoadStateDict(m.StateDict()); }
        catch (StateDictMismatchException e) { throw new ArgumentException($"VaeTrainer: --init folder '{directory}' does not match this run's VAE: {e.Report}.", e); }
        log?.WriteLine($"vae: initialised from {directory}");
    }

    /// <summary>Reconstruction + KL loss of one batch, drawing the posterior sample from <paramref name="rng"/>.</summary>
    internal static StepLoss Loss(TrainableVae vae, Tensor video, VaeTrainingOptions options, Rng rng)
    {
        var (mean, logvarRaw) = vae.Moments(video);
        var logvar = logvarRaw.Clamp(-30f, 20f);
        var z = mean.Add(logvar.MulScalar(0.5f).Exp().Mul(Tensor.Randn(rng, mean.Shape.ToArray())));
        var recon = vae.DecodeRaw(z);
        var diff = Ops.Sub(recon, video);
        var rec = options.Loss == ReconstructionLoss.L1 ? diff.Abs().Mean() : diff.Square().Mean();
        // KL(N(mu, s^2) || N(0, 1)) per element = 0.5 (mu^2 + s^2 - 1 - log s^2)
        var kl = Ops.Sub(Ops.Add(mean.Square(), logvar.Exp()), logvar).AddScalar(-1f).Mean().MulScalar(0.5f);
        var loss = options.KlWeight > 0 ? Ops.Add(rec, kl.MulScalar(options.KlWeight)) : rec;
        if (options.TemporalWeight > 0 && video.Size(2) > 1)
        {
            var temporal = TemporalDifferenceLoss(recon, video);
            loss = Ops.Add(loss, temporal.MulScalar(options.TemporalWeight));
            return new StepLoss(loss, TrainingLoop.Invariant($"rec {rec.Item():F5} kl {kl.Item():F3} temporal {temporal.Item():F5}"));
        }
        return new StepLoss(loss, TrainingLoop.Invariant($"rec {rec.Item():F5} kl {kl.Item():F3}"));
    }

    /// <summary>
    /// Mean squared error between the frame-to-frame changes of <paramref name="recon"/> and <paramref name="video"/>
    /// ([B, C, F, H, W], F &gt;= 2): zero for an error that is the same in every frame (a background off by a constant),
    /// large where the reconstruction smears a moving object over the frames of one latent frame.
    /// </summary>
    public static Tensor TemporalDifferenceLoss(Tensor recon, Tensor video)
    {
        int f = video.Size(2);
        if (recon.Shape != video.Shape || video.Rank != 5 || f < 2)
            throw new ArgumentException($"VaeTrainer.TemporalDifferenceLoss: recon {recon.Shape} and video {video.Shape} must both be [B, C, F, H, W] with F >= 2.");
        var e = Ops.Sub(recon, video);
        return Ops.Sub(e.Narrow(2, 1, f - 1), e.Narrow(2, 0, f - 1)).Square().Mean();
    }

    /// <summary>Mean PSNR (dB, 8-bit-style peak over the [-1, 1] range) of deterministic reconstructions.</summary>
    public static double Psnr(IVideoAutoencoder vae, IReadOnlyList<Tensor> clips)
    {
        double sum = 0;
        using var _ = GradMode.NoGrad();
        foreach (var x in clips)
        {
            using var scope = new TensorScope();
            var y = vae.Decode(vae.Encode(x));
            double mse = 0;
            var a = x.Span;
            var b = y.Span;
            for (int i = 0; i < a.Length; i++) { double d = (a[i] - b[i]) * 0.5; mse += d * d; }
            mse /= a.Length;
            sum += 10 * Math.Log10(1.0 / Math.Max(mse, 1e-12));
        }
        return sum / clips.Count;
    }

    /// <summary>Fits per-channel latents_mean / latents_std on training clips and writes OUT/vae.</summary>
    private static string Export(TrainableVae trained, VaeTrainingOptions options, TextWriter log)
    {
        // a frozen encoder did not change: keep the normalisation the old latents were made with
        bool keep = options.FreezeEncoder && options.InitDirectory is not null;
        var (mu, std) = keep ? InitLatentStats(options.InitDirectory!) : FitLatentStats(trained, options);
        var dir = Path.Combine(options.OutputDirectory, ExportFolder);
        trained.SaveWithStats(dir, mu, std);
        string source = keep ? $"kept from {options.InitDirectory}" : $"over {options.StatsClips} clips";
        log.WriteLine(TrainingLoop.Invariant($"vae: exported EMA weights to {dir} (latent std {std.Min():F3}..{std.Max():F3} {source})"));
        return dir;
    }

    /// <summary>Per-channel mean and std of the posterior means of the first StatsClips training clips.</summary>
    private static (double[] Mean, double[] Std) FitLatentStats(TrainableVae trained, VaeTrainingOptions options)
    {
        int z = trained.Autoencoder.LatentChannels;
        var sum = new double[z];
        var sq = new double[z];
        long count = 0;
        using (GradMode.NoGrad())
        {
            for (int i = 0; i < options.StatsClips; i++)
            {
                using var scope = new TensorScope();
                var clip = Batch(MotionWorld.Generate(i % options.TrainClips, WorldSplit.Train, options.Frames, options.Width, options.Height).Video);
                var mean = trained.Moments(clip).Mean;                                 // raw [1, z, F', H', W']
                var s = mean.Span;
                int per = s.Length / z;
                for (int c = 0; c < z; c++)
                    for (int k = 0; k < per; k++) { double v = s[c * per + k]; sum[c] += v; sq[c] += v * v; }
                count += per;
            }
        }
        var mu = sum.Select(v => v / count).ToArray();
        return (mu, sq.Select((v, c) => Math.Sqrt(Math.Max(v / count - mu[c] * mu[c], 1e-8))).ToArray());
    }

    /// <summary>latents_mean / latents_std of an exported VAE folder.</summary>
    private static (double[] Mean, double[] Std) InitLatentStats(string directory) => VideoAutoencoders.Load(directory) switch
    {
        CompactVae c => (c.Config.LatentsMean.ToArray(), c.Config.LatentsStd.ToArray()),
        WanVae w => (w.Config.LatentsMean.ToArray(), w.Config.LatentsStd.ToArray()),
        var other => throw new InvalidOperationException($"VaeTrainer: cannot read latent statistics of a {other.GetType().Name}."),
    };

    /// <summary>[3, F, H, W] -> [1, 3, F, H, W].</summary>
    internal static Tensor Batch(Tensor clip) => clip.Reshape(new[] { 1 }.Concat(clip.Shape.ToArray()).ToArray());
}

/// <summary>The two trainable architectures behind one face: posterior moments, raw decode, export.</summary>
internal sealed class TrainableVae
{
    private readonly CompactVae? _compact;
    private readonly WanVae? _wan;

    private TrainableVae(CompactVae? compact, WanVae? wan) { _compact = compact; _wan = wan; }

    public static TrainableVae Create(VaeTrainingOptions o, Rng rng) => o.Architecture == VaeArchitecture.Wan
        ? new TrainableVae(null, new WanVae(o.Model, rng))
        : new TrainableVae(new CompactVae(o.Compact, rng), null);

    public Module Module => (Module?)_compact ?? _wan!;
    public IVideoAutoencoder Autoencoder => (IVideoAutoencoder?)_compact ?? _wan!;

    /// <summary>Raw-space posterior mean and log-variance, each [B, z, F', H', W'].</summary>
    public (Tensor Mean, Tensor LogVar) Moments(Tensor video)
    {
        if (_compact is not null) return _compact.EncodeMoments(video);
        var d = _wan!.EncodeDistribution(video, chunked: false);
        return (d.Mean, d.LogVar);
    }

    /// <summary>Raw latent -> unclamped video.</summary>
    public Tensor DecodeRaw(Tensor z) => _compact is not null
        ? _compact.DecodeRaw(z, clamp: false)
        : _wan!.Decode(_wan.Normalize(z), clamp: false, chunked: false);

    /// <summary>Turns gradients off for the encoder and its posterior head (compact: Encoder; Wan: Encoder and quant_conv).</summary>
    public void FreezeEncoder()
    {
        var frozen = _compact is not null
            ? _compact.Encoder.Parameters()
            : _wan!.Encoder.Parameters().Concat(_wan.QuantConv.Parameters());
        foreach (var p in frozen) p.RequiresGrad = false;
    }

    /// <summary>Sets the log-variance outputs to the constant <paramref name="logVar"/> (weights zero, bias logVar).</summary>
    public void InitLogVar(float logVar)
    {
        var (weight, bias, z) = _compact is not null
            ? (_compact.Encoder.ConvOut.Weight, _compact.Encoder.ConvOut.Bias, _compact.Config.ZDim)
            : (_wan!.QuantConv.Weight, _wan.QuantConv.Bias, _wan.Config.ZDim);
        var w = weight.Span;
        int per = w.Length / (2 * z);
        w.Slice(z * per, z * per).Clear();
        bias?.Span.Slice(z, z).Fill(logVar);
    }

    public void SaveWithStats(string dir, double[] mean, double[] std)
    {
        if (_compact is not null) { _compact.WithLatentStats(mean, std).Save(dir); return; }
        var exported = new WanVae(_wan!.Config with { LatentsMean = mean, LatentsStd = std }, new Rng(0));
        exported.LoadStateDict(_wan.StateDict());
        exported.Save(dir);
    }
}
