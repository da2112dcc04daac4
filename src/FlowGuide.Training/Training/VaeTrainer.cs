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

/// <summary>Settings of <see cref="VaeTrainer"/> (see <see cref="TrainerOptions"/> for the shared ones).</summary>
public sealed record VaeTrainingOptions : TrainerOptions
{
    public WanVaeConfig Model { get; init; } = WanVaeConfig.Small;
    public ReconstructionLoss Loss { get; init; } = ReconstructionLoss.L1;
    /// <summary>Weight of KL(q(z|x) || N(0, I)), averaged per latent element.</summary>
    public float KlWeight { get; init; } = 1e-6f;
    /// <summary>Training clips encoded at the end to fit latents_mean / latents_std.</summary>
    public int StatsClips { get; init; } = 64;

    public override void Validate()
    {
        base.Validate();
        Model.Validate();
        if (!(KlWeight >= 0)) throw new ArgumentException($"VaeTrainer: KL weight must be >= 0, got {KlWeight}.");
        if (StatsClips < 1) throw new ArgumentException($"VaeTrainer: stats clips must be at least 1, got {StatsClips}.");
        if ((Frames - 1) % Model.TemporalFactor != 0 || Height % Model.SpatialFactor != 0 || Width % Model.SpatialFactor != 0)
            throw new ArgumentException($"VaeTrainer: clips of {Frames}x{Height}x{Width} do not fit the VAE ({Model.TemporalFactor}k+1 frames, sizes multiple of {Model.SpatialFactor}).");
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
        var vae = new WanVae(options.Model, new Rng(options.Seed));
        vae.Train();
        var loop = new TrainingLoop("vae", vae, options, log);
        var validation = Enumerable.Range(0, options.ValidationClips)
            .Select(i => Batch(MotionWorld.Generate(i, WorldSplit.Validation, options.Frames, options.Width, options.Height).Video)).ToList();
        var evalVae = new WanVae(options.Model, new Rng(0));
        evalVae.Freeze();
        evalVae.Eval();

        var (losses, val, sps) = loop.Run(step =>
        {
            var clips = Enumerable.Range(0, options.BatchSize)
                .Select(b => Batch(MotionWorld.Generate(options.ClipIndex(step, b), WorldSplit.Train, options.Frames, options.Width, options.Height).Video)).ToList();
            var x = clips.Count == 1 ? clips[0] : Ops.Concat(clips, 0);          // [B, 3, F, H, W]
            return Loss(vae, x, options, loop.Rng);
        }, () =>
        {
            loop.Ema.CopyTo(evalVae);
            double psnr = Psnr(evalVae, validation);
            return (psnr, $"PSNR {psnr:F2} dB on {validation.Count} clips (EMA)");
        }, cancel);

        string? export = null;
        if (loop.Step >= options.Steps)
        {
            loop.Ema.CopyTo(evalVae);
            export = Export(evalVae, options, log);
        }
        return new TrainingResult(loop.Step, loop.Step >= options.Steps, losses, val, sps, export);
    }

    /// <summary>Reconstruction + KL loss of one batch, drawing the posterior sample from <paramref name="rng"/>.</summary>
    public static StepLoss Loss(WanVae vae, Tensor video, VaeTrainingOptions options, Rng rng)
    {
        var dist = vae.EncodeDistribution(video, chunked: false);
        var z = dist.Sample(rng);
        var recon = vae.Decode(vae.Normalize(z), clamp: false, chunked: false);
        var diff = Ops.Sub(recon, video);
        var rec = options.Loss == ReconstructionLoss.L1 ? diff.Abs().Mean() : diff.Square().Mean();
        // KL(N(mu, s^2) || N(0, 1)) per element = 0.5 (mu^2 + s^2 - 1 - log s^2)
        var logvar = dist.LogVar.Clamp(-30f, 20f);
        var kl = Ops.Sub(Ops.Add(dist.Mean.Square(), logvar.Exp()), logvar).AddScalar(-1f).Mean().MulScalar(0.5f);
        var loss = options.KlWeight > 0 ? Ops.Add(rec, kl.MulScalar(options.KlWeight)) : rec;
        return new StepLoss(loss, TrainingLoop.Invariant($"rec {rec.Item():F5} kl {kl.Item():F3}"));
    }

    /// <summary>Mean PSNR (dB, 8-bit-style peak over the [-1, 1] range) of deterministic reconstructions.</summary>
    public static double Psnr(WanVae vae, IReadOnlyList<Tensor> clips)
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
    private static string Export(WanVae trained, VaeTrainingOptions options, TextWriter log)
    {
        int z = options.Model.ZDim;
        var sum = new double[z];
        var sq = new double[z];
        long count = 0;
        using (GradMode.NoGrad())
        {
            for (int i = 0; i < options.StatsClips; i++)
            {
                using var scope = new TensorScope();
                var clip = Batch(MotionWorld.Generate(i % options.TrainClips, WorldSplit.Train, options.Frames, options.Width, options.Height).Video);
                var mean = trained.EncodeDistribution(clip).Mean;                    // raw [1, z, F', H', W']
                var s = mean.Span;
                int per = s.Length / z;
                for (int c = 0; c < z; c++)
                    for (int k = 0; k < per; k++) { double v = s[c * per + k]; sum[c] += v; sq[c] += v * v; }
                count += per;
            }
        }
        var mu = sum.Select(v => v / count).ToArray();
        var std = sq.Select((v, c) => Math.Sqrt(Math.Max(v / count - mu[c] * mu[c], 1e-8))).ToArray();
        var config = options.Model with { LatentsMean = mu, LatentsStd = std };
        var exported = new WanVae(config, new Rng(0));
        exported.LoadStateDict(trained.StateDict());
        var dir = Path.Combine(options.OutputDirectory, ExportFolder);
        exported.Save(dir);
        log.WriteLine(TrainingLoop.Invariant($"vae: exported EMA weights to {dir} (latent std {std.Min():F3}..{std.Max():F3} over {options.StatsClips} clips)"));
        return dir;
    }

    /// <summary>[3, F, H, W] -> [1, 3, F, H, W].</summary>
    internal static Tensor Batch(Tensor clip) => clip.Reshape(new[] { 1 }.Concat(clip.Shape.ToArray()).ToArray());
}
