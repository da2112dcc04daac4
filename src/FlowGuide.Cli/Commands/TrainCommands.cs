using System.Globalization;
using FlowGuide.Training;

namespace FlowGuide.Cli;

/// <summary>Options both <c>train</c> commands share, read into a <see cref="TrainerOptions"/>-derived record.</summary>
internal static class TrainArgs
{
    public const string SharedUsage =
        "  --out DIR            run folder: checkpoint/, exports, latents/ (required)\n" +
        "  --steps N            total optimiser steps (schedule length)\n" +
        "  --stop-after N       stop after N steps in this session (checkpointed); continue later with --resume\n" +
        "  --resume             continue from DIR/checkpoint (bit-exact)\n" +
        "  --batch N            clips per step\n" +
        "  --lr X --warmup N --min-lr X --weight-decay X --ema X --clip X\n" +
        "  --checkpoint-every N --validate-every N --log-every N --seed N\n" +
        "  --frames N --height N --width N   clip size (default 17x64x64)\n" +
        "  --train-clips N      distinct training clips, cycled    --val-clips N   fixed validation clips\n";

    public static T Read<T>(Args a, T o) where T : TrainerOptions => o with
    {
        Steps = a.Int("steps", (int)o.Steps),
        StopAfterSteps = a.String("stop-after") is null ? null : a.Int("stop-after", 0),
        Resume = a.Flag("resume"),
        BatchSize = a.Int("batch", o.BatchSize),
        LearningRate = a.Float("lr", o.LearningRate),
        WarmupSteps = a.Int("warmup", (int)o.WarmupSteps),
        MinLearningRate = a.Float("min-lr", o.MinLearningRate),
        WeightDecay = a.Float("weight-decay", o.WeightDecay),
        EmaDecay = a.Float("ema", o.EmaDecay),
        ClipNorm = a.Float("clip", (float)o.ClipNorm),
        CheckpointEvery = a.Int("checkpoint-every", (int)o.CheckpointEvery),
        ValidateEvery = a.Int("validate-every", (int)o.ValidateEvery),
        LogEvery = a.Int("log-every", (int)o.LogEvery),
        Seed = a.Seed("seed", o.Seed),
        Frames = a.Int("frames", o.Frames),
        Height = a.Int("height", o.Height),
        Width = a.Int("width", o.Width),
        TrainClips = a.Int("train-clips", (int)Math.Min(int.MaxValue, o.TrainClips)),
        ValidationClips = a.Int("val-clips", o.ValidationClips),
    };

    public static string Out(Args a) => a.String("out") ?? throw new UsageException("--out DIR is required");

    public static void Report(TextWriter output, string name, TrainingResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        string end = r.Finished ? $"finished; exported to {r.ExportDirectory}" : "stopped early; continue with --resume";
        string val = double.IsNaN(r.Validation) ? "" : "; last validation " + r.Validation.ToString("F4", inv);
        output.WriteLine($"{name}: step {r.Step}, {r.SecondsPerStep.ToString("F2", inv)} s/step this session, {end}{val}");
    }
}

/// <summary><c>flowguide train vae</c>: trains the small Wan VAE on the motion world (see docs/training.md).</summary>
public sealed class TrainVaeCommand : Command
{
    public override string Name => "train vae";
    public override string Summary => "train the video VAE on the motion world (checkpoints, exact resume)";
    public override IReadOnlySet<string> Flags => new HashSet<string> { "resume", "freeze-encoder" };
    public override string Usage =>
        "flowguide train vae --out DIR [options]\n\n" + TrainArgs.SharedUsage +
        "  --arch compact|wan   autoencoder: FlowGuide's compact VAE (default) or the Wan2.1 architecture\n" +
        "  --loss l1|mse        reconstruction loss (default mse)\n" +
        "  --kl X               KL weight (default 1e-6)\n" +
        "  --base-dim N         Wan VAE base width (default 32: WanVaeConfig.Small)\n" +
        "  --stats-clips N      training clips used to fit latents_mean/std at export\n" +
        "  --init VAE_DIR       start from this exported VAE's weights (same architecture and sizes) under a fresh schedule\n" +
        "  --temporal-weight X  add X times the MSE of frame-to-frame changes (reconstruction vs clip; default 0)\n" +
        "  --freeze-encoder     train the decoder only; with --init the export keeps the init's latent statistics, so a\n" +
        "                       transformer trained on the old latents can use the new decoder\n\n" +
        "Exports the EMA weights to DIR/vae when --steps is reached.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var o = TrainArgs.Read(args, new VaeTrainingOptions { OutputDirectory = TrainArgs.Out(args) });
        var loss = args.String("loss", "mse").ToLowerInvariant();
        var arch = args.String("arch", "compact").ToLowerInvariant();
        o = o with
        {
            Loss = loss switch { "l1" => ReconstructionLoss.L1, "mse" => ReconstructionLoss.Mse, _ => throw new UsageException($"--loss must be l1 or mse, got '{loss}'") },
            Architecture = arch switch { "compact" => VaeArchitecture.Compact, "wan" => VaeArchitecture.Wan, _ => throw new UsageException($"--arch must be compact or wan, got '{arch}'") },
            KlWeight = args.Float("kl", o.KlWeight),
            Model = o.Model with { BaseDim = args.Int("base-dim", o.Model.BaseDim) },
            StatsClips = args.Int("stats-clips", o.StatsClips),
            InitDirectory = args.String("init"),
            TemporalWeight = args.Float("temporal-weight", o.TemporalWeight),
            FreezeEncoder = args.Flag("freeze-encoder"),
        };
        args.EnsureAllUsed(0);
        TrainArgs.Report(output, "vae", VaeTrainer.Train(o, output, cancel));
        return 0;
    }
}

/// <summary><c>flowguide train dit</c>: trains the text-to-video transformer and text encoder on VAE latents.</summary>
public sealed class TrainDitCommand : Command
{
    public override string Name => "train dit";
    public override string Summary => "train the video transformer (flow matching) on VAE latents of the motion world";
    public override IReadOnlySet<string> Flags => new HashSet<string>(FlowLossArgs.Flags) { "resume" };
    public override string Usage =>
        "flowguide train dit --vae VAE_DIR --out DIR [options]\n\n" + TrainArgs.SharedUsage +
        "  --vae DIR            trained VAE folder (e.g. the vae/ a 'train vae' run exported); frozen\n" +
        "  --layers N           transformer layers (default 6; width 256 = 4 heads x 64)\n" +
        "  --caption-dropout X  probability of the empty prompt (default 0.1)\n" +
        "  --latent-cache DIR   where encoded latents are cached (default DIR/latents)\n" +
        "  --init MODEL_DIR     start from this model folder's transformer and text encoder (same sizes) under a fresh schedule\n" + FlowLossArgs.TrainUsage + "\n" +
        "Exports a complete model folder (model_index.json, transformer/, vae/, text_encoder/) to DIR/model when --steps is reached.\n" +
        "Writes one row per step to DIR/train_log.csv (losses, flow term, motion validation, seconds).";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var vae = args.String("vae") ?? throw new UsageException("--vae DIR is required");
        var o = TrainArgs.Read(args, new DitTrainingOptions { OutputDirectory = TrainArgs.Out(args), VaeDirectory = vae });
        o = o with
        {
            Model = o.Model with { NumLayers = args.Int("layers", o.Model.NumLayers) },
            CaptionDropout = args.Float("caption-dropout", o.CaptionDropout),
            LatentCacheDirectory = args.String("latent-cache"),
            InitDirectory = args.String("init"),
        };
        var flow = FlowLossArgs.ReadTrain(args);
        o = o with { FlowLoss = flow, FlowValidation = FlowLossArgs.ReadValidation(args, flow is null ? 0 : 4) };
        args.EnsureAllUsed(0);
        TrainArgs.Report(output, "dit", DitTrainer.Train(o, output, cancel));
        return 0;
    }
}
