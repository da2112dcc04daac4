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

    /// <summary>
    /// --NAME as positive integers separated by commas (exactly <paramref name="count"/> of them when given); null when
    /// the option is absent. <paramref name="example"/> goes into the error message.
    /// </summary>
    public static int[]? PositiveInts(Args a, string name, string example, int? count = null)
    {
        if (a.String(name) is not { } text) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var v = new int[parts.Length];
        bool ok = parts.Length > 0 && (count is null || parts.Length == count);
        for (int i = 0; ok && i < parts.Length; i++)
            ok = int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out v[i]) && v[i] > 0;
        if (!ok)
            throw new UsageException($"--{name} must be {(count is { } c ? $"{c} " : "")}positive integers separated by commas (e.g. {example}), got '{text}'");
        return v;
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
        "  --temporal-factor N  compact VAE: video frames per latent frame after the first (default 4; 1 codes every frame alone)\n" +
        "  --z-dim N            compact VAE: latent channels (default 16)\n" +
        "  --channels A,B,C     compact VAE: widths per level, full resolution first (default 48,96,128: 4x spatial)\n" +
        "  --res-blocks N       compact VAE: residual blocks per level (default 1)\n" +
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
            Compact = CompactConfig(args, o.Compact),
        };
        args.EnsureAllUsed(0);
        TrainArgs.Report(output, "vae", VaeTrainer.Train(o, output, cancel));
        return 0;
    }

    /// <summary>The compact VAE's layout from --temporal-factor, --z-dim, --channels and --res-blocks (each defaults to <paramref name="d"/>'s).</summary>
    internal static FlowGuide.Models.Video.CompactVaeConfig CompactConfig(Args args, FlowGuide.Models.Video.CompactVaeConfig d)
    {
        int z = args.Int("z-dim", d.ZDim);
        if (z < 1) throw new UsageException($"--z-dim must be at least 1, got {z}");
        int tf = args.Int("temporal-factor", d.TemporalFactor);
        if (tf < 1) throw new UsageException($"--temporal-factor must be at least 1, got {tf}");
        int res = args.Int("res-blocks", d.NumResBlocks);
        if (res < 0) throw new UsageException($"--res-blocks must be 0 or more, got {res}");
        var channels = TrainArgs.PositiveInts(args, "channels", "48,96,128") ?? d.Channels;
        return d with
        {
            ZDim = z, TemporalFactor = tf, NumResBlocks = res, Channels = channels,
            LatentsMean = z == d.ZDim ? d.LatentsMean : new double[z],
            LatentsStd = z == d.ZDim ? d.LatentsStd : Enumerable.Repeat(1.0, z).ToArray(),
        };
    }
}

/// <summary><c>flowguide train dit</c>: trains the text-to-video transformer and text encoder on VAE latents.</summary>
public sealed class TrainDitCommand : Command
{
    public override string Name => "train dit";
    public override string Summary => "train the video transformer (flow matching) on VAE latents of the motion world";
    public override IReadOnlySet<string> Flags => new HashSet<string>(FlowLossArgs.Flags) { "resume", "export-checkpoint" };
    public override string Usage =>
        "flowguide train dit --vae VAE_DIR --out DIR [options]\n\n" + TrainArgs.SharedUsage +
        "  --vae DIR            trained VAE folder (e.g. the vae/ a 'train vae' run exported); frozen\n" +
        "  --layers N           transformer layers (default 6; width 256 = 4 heads x 64)\n" +
        "  --patch T,H,W        patch size over latent frames, rows, columns (default 1,2,2); in/out channels follow the VAE\n" +
        "  --position-frequencies K  add a learned absolute-position embedding of K sin/cos frequencies per axis (frame,\n" +
        "                       row, column; default 0: none, as in Wan2.1); it starts at zero, so --init may name a model without it\n" +
        "  --caption-dropout X  probability of the empty prompt (default 0.1)\n" +
        "  --t-mean M           training noise levels t = sigmoid(M + S*n), n ~ N(0,1): M > 0 trains more at high noise (default 0)\n" +
        "  --t-std S            the scale S of that logit-normal (default 1)\n" +
        "  --temporal-weight W  add W x the squared error after removing each position's mean over frames: more weight\n" +
        "                       on what moves than on what stays (default 0: plain flow matching)\n" +
        "  --latent-cache DIR   where encoded latents are cached (default DIR/latents)\n" +
        "  --init MODEL_DIR     start from this model folder's transformer and text encoder (same sizes) under a fresh schedule\n" +
        "  --export-checkpoint  only write the EMA weights of DIR/checkpoint as a model folder DIR/model-stepN (no training;\n" +
        "                       the run may go on meanwhile); give the run's own options\n" + FlowLossArgs.TrainUsage + "\n" +
        "Exports a complete model folder (model_index.json, transformer/, vae/, text_encoder/) to DIR/model when --steps is reached.\n" +
        "Writes one row per step to DIR/train_log.csv (losses, flow term, motion validation, seconds).";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var vae = args.String("vae") ?? throw new UsageException("--vae DIR is required");
        var o = TrainArgs.Read(args, new DitTrainingOptions { OutputDirectory = TrainArgs.Out(args), VaeDirectory = vae });
        o = o with
        {
            Model = o.Model with
            {
                NumLayers = args.Int("layers", o.Model.NumLayers), PatchSize = Patch(args, o.Model.PatchSize),
                PositionFrequencies = args.Int("position-frequencies", o.Model.PositionFrequencies),
            },
            CaptionDropout = args.Float("caption-dropout", o.CaptionDropout),
            TimestepMean = args.Float("t-mean", o.TimestepMean),
            TimestepStd = args.Float("t-std", o.TimestepStd),
            TemporalWeight = args.Float("temporal-weight", o.TemporalWeight),
            LatentCacheDirectory = args.String("latent-cache"),
            InitDirectory = args.String("init"),
        };
        var flow = FlowLossArgs.ReadTrain(args);
        o = o with { FlowLoss = flow, FlowValidation = FlowLossArgs.ReadValidation(args, flow is null ? 0 : 4) };
        bool exportOnly = args.Flag("export-checkpoint");
        args.EnsureAllUsed(0);
        // the transformer's input and output channels follow the VAE's latent channels (its config; the trainer loads the weights)
        int latentChannels = FlowGuide.Models.Video.VideoAutoencoders.LatentChannels(vae);
        o = o with { Model = o.Model with { InChannels = latentChannels, OutChannels = latentChannels } };
        if (exportOnly)
        {
            DitTrainer.ExportCheckpoint(o, output);
            return 0;
        }
        TrainArgs.Report(output, "dit", DitTrainer.Train(o, output, cancel));
        return 0;
    }

    /// <summary>--patch T,H,W, each a positive integer.</summary>
    internal static (int T, int H, int W) Patch(Args args, (int T, int H, int W) d) =>
        TrainArgs.PositiveInts(args, "patch", "1,2,2", count: 3) is { } v ? (v[0], v[1], v[2]) : d;
}

/// <summary><c>flowguide train classifier</c>: trains the noise-aware latent motion classifier that motion guidance uses.</summary>
public sealed class TrainClassifierCommand : Command
{
    public override string Name => "train classifier";
    public override string Summary => "train the latent motion classifier (what moves, from noisy VAE latents) for motion guidance";
    public override IReadOnlySet<string> Flags => new HashSet<string> { "resume", "unconditional" };
    public override string Usage =>
        "flowguide train classifier --vae VAE_DIR --out DIR [options]\n\n" + TrainArgs.SharedUsage +
        "  --vae DIR            the video model's VAE folder (e.g. models/flowguide-small/vae); frozen\n" +
        "  --width N            channels of the two convolutions (default 32)\n" +
        "  --keypoints K        soft keypoints tracked over the frames (default 12)\n" +
        "  --latent-cache DIR   where encoded latents are cached (default DIR/latents; a 'train dit' run's cache is reused)\n" +
        "  --unconditional      do not tell the classifier the subject's colour (by default it is, so it can tell the\n" +
        "                       captioned shape from moving companions)\n\n" +
        "Each step noises a batch of training clips' latents to a uniform random t and minimises the cross-entropy against\n" +
        "the clip's motion class (24: the caption grammar's 16 motion phrases and 8 camera pans). Validation reports the\n" +
        "accuracy at t = 0.3, 0.5, 0.7, 0.9. Exports the EMA weights to DIR/classifier when --steps is reached; copy that\n" +
        "folder to MODEL/motion_classifier to make 'generate' steer with it (--motion-guidance).";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var vae = args.String("vae") ?? throw new UsageException("--vae DIR is required");
        var o = TrainArgs.Read(args, new MotionClassifierTrainingOptions
        {
            OutputDirectory = TrainArgs.Out(args), VaeDirectory = vae, BatchSize = 16, LearningRate = 1e-3f, ValidationClips = 256,
            ValidateEvery = 500, LogEvery = 50, CheckpointEvery = 250,
        });
        o = o with { LatentCacheDirectory = args.String("latent-cache") };
        int width = args.Int("width", 32), keypoints = args.Int("keypoints", 12);
        bool unconditional = args.Flag("unconditional");
        if (width < 1 || keypoints < 1) throw new UsageException($"--width and --keypoints must be positive, got {width} and {keypoints}");
        args.EnsureAllUsed(0);
        int latentChannels = FlowGuide.Models.Video.VideoAutoencoders.LatentChannels(vae);
        var small = FlowGuide.Models.Video.LatentMotionClassifierConfig.Small(latentChannels, FlowGuide.Training.World.MotionLabels.Names,
            unconditional ? null : FlowGuide.Training.World.MotionLabels.Subjects);
        o = o with { Model = small with { Width = width, Keypoints = keypoints } };
        TrainArgs.Report(output, "classifier", MotionClassifierTrainer.Train(o, output, cancel));
        return 0;
    }
}
